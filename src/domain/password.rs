//! Password hashing: Argon2id, in one of the configurations OWASP's Password
//! Storage Cheat Sheet lists as equally strong: 12 MiB, 3 passes, 1 lane.
//!
//! Hashing is CPU-heavy by design, so callers run it on the blocking pool,
//! one hash per core at a time. Of OWASP's equal choices this one holds the
//! least memory for the time it costs: with the crate's default (19 MiB,
//! 2 passes) a burst of logins takes the server past the memory it is meant
//! to stay under. Hashes made with other parameters still verify: a PHC
//! string carries its own.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::LazyLock;

/// Argon2id, m = 12 MiB, t = 3, p = 1.
fn argon2() -> Argon2<'static> {
    let params = Params::new(12 * 1024, 3, 1, None).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string of a real password nobody has, verified against when the
/// username is unknown so that "no such user" and "wrong password" cost the same.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash("dummy password for timing").expect("argon2 works"));

pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(argon2().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// `stored` is `None` for an unknown user: a dummy hash is verified instead.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let phc = stored.unwrap_or(DUMMY_HASH.as_str());
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2().verify_password(password.as_bytes(), &parsed).is_ok() && stored.is_some()
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
        assert!(h.contains("$m=12288,t=3,p=1$"), "{h}");
    }

    /// A hash stored before the parameters changed still verifies.
    #[test]
    fn verifies_hashes_made_with_other_parameters() {
        let salt = argon2::password_hash::SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        let old = argon2::PasswordHasher::hash_password(&argon2::Argon2::default(), b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert!(old.contains("$m=19456,t=2,p=1$"), "{old}");
        assert!(super::verify("correct horse", Some(&old)));
        assert!(!super::verify("wrong", Some(&old)));
    }
}
