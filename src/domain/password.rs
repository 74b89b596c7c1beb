//! Password hashing: Argon2id with the crate's (OWASP-recommended) defaults.
//!
//! Hashing is CPU-heavy by design, so callers run it on the blocking pool.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use std::sync::LazyLock;

/// A PHC string of a real password nobody has, verified against when the
/// username is unknown so that "no such user" and "wrong password" cost the same.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash("dummy password for timing").expect("argon2 works"));

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// `stored` is `None` for an unknown user: a dummy hash is verified instead.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let phc = stored.unwrap_or(DUMMY_HASH.as_str());
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && stored.is_some()
}

#[cfg(test)]
mod tests {
    #[test]
    fn verifies_only_the_right_password() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", Some(&h)));
        assert!(!super::verify("wrong", Some(&h)));
        assert!(!super::verify("dummy password for timing", None));
    }
}
