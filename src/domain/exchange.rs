//! The token exchange's rule (RFC 6749 §4.1.3, RFC 7636 §4.6): whether what
//! a client presents with a live authorization code earns it a key.
//!
//! Storage calls [`check`] inside the transaction that uses the code up, once
//! per attempt; a refused code is used up all the same (it may have been
//! stolen). What makes a code live (known, for this client, unexpired,
//! unused) is the claim's own `WHERE` clause, where single use has to be
//! decided atomically.

use super::{PermissionSet, pkce};

/// An authorization code as stored: what the user approved, for which client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    pub user_id: i64,
    pub client_id: String,
    /// The redirect URI the code was sent to.
    pub redirect_uri: String,
    pub permissions: PermissionSet,
    /// The PKCE challenge of the authorization request, if it had one.
    pub code_challenge: Option<String>,
    pub created_at: i64,
}

/// What the client presented with the code at the token endpoint.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    pub code_verifier: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
}

/// Why a live code earns no key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The PKCE verifier is missing, wrong, or was sent for a code without a
    /// challenge; the text says which.
    Pkce(&'static str),
    /// The redirect URI is not the one the code was sent to.
    RedirectUri,
}

/// Does `presented` redeem `code`? PKCE first, then the redirect URI.
pub fn check(code: &AuthCode, presented: &Presented<'_>) -> Result<(), Refusal> {
    match (&code.code_challenge, presented.code_verifier) {
        (Some(challenge), Some(v)) if pkce::verify(challenge, v) => {}
        (Some(_), Some(_)) => return Err(Refusal::Pkce("code_verifier does not match the code_challenge")),
        (Some(_), None) => return Err(Refusal::Pkce("code_verifier is required: the authorization request used PKCE")),
        (None, Some(_)) => {
            return Err(Refusal::Pkce("code_verifier was sent but the authorization request had no code_challenge"));
        }
        (None, None) => {}
    }
    // Exact: the code was sent to this very string (a public client's
    // loopback port included), and a redirect URI left out is not checked.
    match presented.redirect_uri {
        Some(given) if given != code.redirect_uri => Err(Refusal::RedirectUri),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn code(challenge: Option<&str>) -> AuthCode {
        AuthCode {
            user_id: 1,
            client_id: "CI1".into(),
            redirect_uri: "https://example.com/cb".into(),
            permissions: PermissionSet::from_bits(1),
            code_challenge: challenge.map(Into::into),
            created_at: 0,
        }
    }

    fn presented<'a>(verifier: Option<&'a str>, redirect_uri: Option<&'a str>) -> Presented<'a> {
        Presented { code_verifier: verifier, redirect_uri }
    }

    #[test]
    fn a_code_without_pkce_is_redeemed_with_its_redirect_uri_or_none() {
        assert_eq!(check(&code(None), &presented(None, None)), Ok(()));
        assert_eq!(check(&code(None), &presented(None, Some("https://example.com/cb"))), Ok(()));
        assert_eq!(check(&code(None), &presented(None, Some("https://example.com/cb/"))), Err(Refusal::RedirectUri));
    }

    #[test]
    fn a_pkce_code_needs_the_verifier_of_its_challenge() {
        let c = code(Some(CHALLENGE));
        assert_eq!(check(&c, &presented(Some(VERIFIER), None)), Ok(()));
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(
            matches!(check(&c, &presented(Some(wrong), None)), Err(Refusal::Pkce(m)) if m.contains("does not match"))
        );
        assert!(matches!(check(&c, &presented(None, None)), Err(Refusal::Pkce(m)) if m.contains("required")));
    }

    #[test]
    fn a_verifier_for_a_code_without_a_challenge_is_refused() {
        let refused = check(&code(None), &presented(Some(VERIFIER), None));
        assert!(matches!(refused, Err(Refusal::Pkce(m)) if m.contains("no code_challenge")));
    }

    #[test]
    fn pkce_is_judged_before_the_redirect_uri() {
        let refused = check(&code(Some(CHALLENGE)), &presented(None, Some("https://elsewhere.example/")));
        assert!(matches!(refused, Err(Refusal::Pkce(_))));
    }
}
