//! Password hashing: Argon2id, in one of the configurations OWASP's Password
//! Storage Cheat Sheet lists as equally strong: 12 MiB, 3 passes, 1 lane.
//!
//! Hashing is CPU-heavy by design, so callers run it on the blocking pool,
//! one hash per core at a time. Of OWASP's equal choices this one holds the
//! least memory for the time it costs: with the crate's default (19 MiB,
//! 2 passes) a burst of logins takes the server past the memory it is meant
//! to stay under. Hashes made with other parameters still verify: a PHC
//! string carries its own.
//!
//! Accounts imported from Tachi (`tachi-auth import`) arrive with the bcrypt
//! hashes Tachi made (bcryptjs, `$2a$`/`$2b$`). They verify here as they are,
//! and [`verify_and_upgrade`] hands back an Argon2id hash of the same
//! password to store instead: the bcrypt hash is gone after the first login.

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
    if let Some(bcrypt) = stored.filter(|s| is_bcrypt(s)) {
        // bcrypt reads 72 bytes of a password at most, as bcryptjs did when
        // it made the hash: the truncating verify gives the same answer.
        return bcrypt::verify(password, bcrypt).unwrap_or(false);
    }
    let phc = stored.unwrap_or(DUMMY_HASH.as_str());
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2().verify_password(password.as_bytes(), &parsed).is_ok() && stored.is_some()
}

/// Verifies `password` (as [`verify`]); when it is right but `stored` is a
/// hash this server no longer makes (bcrypt), also returns an Argon2id hash
/// of it to store in its place.
pub fn verify_and_upgrade(password: &str, stored: Option<&str>) -> (bool, Option<String>) {
    let ok = verify(password, stored);
    let upgraded = if ok && stored.is_some_and(is_bcrypt) { hash(password).ok() } else { None };
    (ok, upgraded)
}

/// Is `stored` a bcrypt hash (`$2a$`, `$2b$`, `$2y$`: the versions bcryptjs
/// and other implementations write)?
pub fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"].iter().any(|v| stored.starts_with(v))
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

    /// A Tachi account's bcrypt hash (bcryptjs writes `$2a$`) verifies, and
    /// a right password comes back with an Argon2id hash to store instead.
    #[test]
    fn bcrypt_hashes_verify_and_are_upgraded() {
        let bcrypt = bcrypt::hash_with_result("correct horse", 4).unwrap().format_for_version(bcrypt::Version::TwoA);
        assert!(bcrypt.starts_with("$2a$04$") && super::is_bcrypt(&bcrypt), "{bcrypt}");
        assert!(super::verify("correct horse", Some(&bcrypt)));
        assert!(!super::verify("wrong", Some(&bcrypt)));
        let (ok, upgraded) = super::verify_and_upgrade("correct horse", Some(&bcrypt));
        let upgraded = upgraded.expect("an Argon2id hash");
        assert!(ok && upgraded.starts_with("$argon2id$"), "{upgraded}");
        assert!(super::verify("correct horse", Some(&upgraded)));
        assert_eq!(super::verify_and_upgrade("wrong", Some(&bcrypt)), (false, None));
        // An Argon2id hash is not upgraded again, and a broken bcrypt hash verifies nothing.
        assert_eq!(super::verify_and_upgrade("correct horse", Some(&upgraded)), (true, None));
        assert!(!super::verify("correct horse", Some("$2a$10$short")));
    }
}
