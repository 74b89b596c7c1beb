//! PKCE (RFC 7636), S256 only: `plain` would hand the verifier to anyone who
//! sees the authorization request, so it is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::Invalid;
use super::secret::same_token;

/// Validates a `code_challenge` / `code_challenge_method` pair.
pub fn check_challenge(challenge: &str, method: Option<&str>) -> Result<(), Invalid> {
    match method {
        Some("S256") => {}
        None | Some("plain") => {
            return Err(Invalid::new("code_challenge_method must be S256 (plain is not supported)"));
        }
        Some(_) => return Err(Invalid::new("code_challenge_method must be S256")),
    }
    // BASE64URL(SHA-256(..)) without padding is always 43 characters.
    let ok = challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(Invalid::new("code_challenge must be the 43-character base64url SHA-256 of the verifier"));
    }
    Ok(())
}

/// RFC 7636 §4.1: 43–128 characters of [A-Z a-z 0-9 - . _ ~].
pub fn verifier_is_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Does `verifier` answer `challenge` (S256)?
pub fn verify(challenge: &str, verifier: &str) -> bool {
    verifier_is_well_formed(verifier)
        && same_token(&URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())), challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(check_challenge(challenge, Some("S256")).is_ok());
        assert!(verify(challenge, verifier));
        assert!(!verify(challenge, "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"));
        assert!(check_challenge(challenge, Some("plain")).is_err());
        assert!(check_challenge("short", Some("S256")).is_err());
    }
}
