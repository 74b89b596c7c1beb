//! Secrets: client secrets, API keys, authorization codes, session ids and
//! CSRF tokens. (How an API key's token is made and found: `api_key`.)
//!
//! A plain secret exists only between its creation and the response that shows
//! it once; storage sees nothing but its hash. The two are different types so
//! a plain value cannot be written to the database, and neither type prints its
//! value through `Debug`, so a stray `tracing::debug!(?x)` cannot leak one.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The kinds of secret, with the prefix the contract gives each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    ClientSecret,
    AuthCode,
    Session,
    Csrf,
}

impl SecretKind {
    fn prefix(self) -> &'static str {
        match self {
            SecretKind::ClientSecret => "CS",
            SecretKind::AuthCode | SecretKind::Session | SecretKind::Csrf => "",
        }
    }
}

/// 160 random bits, hex-encoded: above the 128 bits a guessable-secret attack
/// would need to beat, and the length Tachi's own keys have.
const SECRET_BYTES: usize = 20;

/// Could `value` be an identifier this server hands out (a `random_id`, or
/// a built-in client's `CX…` id)? Anything else names nothing and is not
/// looked up: an id with a NUL, say, cannot even be sent to PostgreSQL.
pub fn is_well_formed_id(value: &str) -> bool {
    (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Random identifier, not secret (client ids, key ids), with its prefix.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex(&bytes))
}

/// Random identifier that sorts by creation time (key ids): the first six
/// bytes are the time in milliseconds. Where ids are indexed, new ones land on
/// the index's last page instead of on a random page each: an exchange that
/// issues a key writes one page fewer. Creation times are not secret (the key
/// list shows them); the remaining 112 random bits keep ids unguessable.
pub fn time_ordered_id(prefix: &str) -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    let ms = crate::domain::now_ms().max(0) as u64;
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    rand::rng().fill_bytes(&mut bytes[6..]);
    format!("{prefix}{}", hex(&bytes))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0xf) as usize] as char);
    }
    s
}

/// A secret in clear. Shown once, then dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainSecret(String);

impl PlainSecret {
    pub fn generate(kind: SecretKind) -> Self {
        PlainSecret(random_id(kind.prefix()))
    }

    /// Wraps a value a caller presented (a bearer token, a code, a cookie).
    pub fn from_presented(value: impl Into<String>) -> Self {
        PlainSecret(value.into())
    }

    pub fn hash(&self) -> SecretHash {
        SecretHash(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The anti-CSRF token of a session (or pre-login) cookie: derived from
    /// the secret, so a page can embed it without storing anything, and a
    /// cross-site attacker, who cannot read the cookie, cannot compute it.
    pub fn csrf_token(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"tachi-auth csrf v1:");
        h.update(self.0.as_bytes());
        hex(&h.finalize())
    }

    /// The clear value, for the one response (or cookie, or redirect) that
    /// hands it to its owner.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PlainSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PlainSecret(***)")
    }
}

/// Compares two presented strings in constant time (CSRF tokens).
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// SHA-256 of a secret. A fast hash is right here: the secrets are 160-bit
/// random, so there is nothing for a slow hash to protect against, and bearer
/// validation (every API request) stays one cheap lookup.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(SecretHash)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Constant-time comparison, for secrets checked against one stored hash
    /// (client secrets, CSRF tokens) rather than looked up by hash.
    pub fn matches(&self, presented: &PlainSecret) -> bool {
        self.0.ct_eq(&presented.hash().0).into()
    }

    /// A hash no secret has, compared against when the thing looked up does not
    /// exist, so an unknown client and a wrong secret take the same time.
    pub fn dummy() -> Self {
        SecretHash([0xA5; 32])
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_distinct_prefixed_and_long() {
        let a = PlainSecret::generate(SecretKind::ClientSecret);
        let b = PlainSecret::generate(SecretKind::ClientSecret);
        assert_ne!(a, b);
        assert!(a.expose().starts_with("CS"));
        assert_eq!(a.expose().len(), 2 + 40);
        assert_eq!(PlainSecret::generate(SecretKind::AuthCode).expose().len(), 40);
    }

    #[test]
    fn time_ordered_ids_have_the_shape_of_random_ones_and_sort_by_time() {
        let a = time_ordered_id("AK");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = time_ordered_id("AK");
        assert_eq!((a.len(), b.len()), (random_id("AK").len(), 42));
        assert!(a.starts_with("AK") && is_well_formed_id(&a));
        assert!(a < b, "{a} then {b}");
        assert_ne!(a[14..], b[14..]);
    }

    #[test]
    fn hash_matches_only_its_secret() {
        let s = PlainSecret::generate(SecretKind::Session);
        let h = s.hash();
        assert!(h.matches(&PlainSecret::from_presented(s.expose())));
        assert!(!h.matches(&PlainSecret::from_presented("nope")));
        assert!(!SecretHash::dummy().matches(&s));
    }

    #[test]
    fn debug_never_prints_the_value() {
        let s = PlainSecret::generate(SecretKind::Session);
        assert!(!format!("{s:?}").contains(s.expose()));
        assert!(!format!("{:?}", s.hash()).contains(&hex(s.hash().as_bytes())));
    }
}
