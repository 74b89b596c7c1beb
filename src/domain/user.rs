//! Accounts: what a valid username, password, email and profile are.

use super::Invalid;

/// Usernames are unique case-insensitively; this is the form compared.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
}

/// The form two usernames are compared in for looking alike: digits and
/// capitals that pass for letters (`0`/`O`, `1`/`I`/`l`), then case, then
/// letter pairs that pass for one (`rn`/`m`, `vv`/`w`). Usernames are ASCII
/// (see [`check_username`]), so this is the part of Unicode's confusables
/// (UTS #39) that applies. Migration 0008 computes the same in SQL.
pub fn username_skeleton(username: &str) -> String {
    let mapped: String = username
        .chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | 'I' => 'l',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    mapped.replace("rn", "m").replace("vv", "w")
}

/// Names a user may not take: they would pass for the operator (the site's
/// own name, staff titles) or for the caller (`me` means "the caller" in
/// every `:userID` of the API).
pub fn is_reserved(username: &str, site_name: &str) -> bool {
    const RESERVED: [&str; 14] = [
        "me",
        "admin",
        "administrator",
        "root",
        "system",
        "support",
        "staff",
        "moderator",
        "mod",
        "official",
        "operator",
        "security",
        "tachi",
        "null",
    ];
    let site: String = site_name.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let alike = |a: &str, b: &str| username_key(a) == username_key(b) || username_skeleton(a) == username_skeleton(b);
    RESERVED.iter().any(|r| alike(r, username)) || (!site.is_empty() && alike(&site, username))
}

/// What a route's `:userID` names, as the original server's `ResolveUser`
/// reads it: digits are an id, `me` is the caller, anything else a username
/// (compared case-insensitively). Usernames cannot start with a digit or be
/// two letters long, so no name is mistaken for an id or for `me`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    /// An id; `None` for digits no id can have (too large), which name nobody.
    Id(Option<i64>),
    Me,
    /// The username's comparison form ([`username_key`]).
    Name(String),
}

impl UserRef {
    pub fn parse(raw: &str) -> UserRef {
        if !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) {
            UserRef::Id(raw.parse().ok())
        } else if raw == "me" {
            UserRef::Me
        } else {
            UserRef::Name(username_key(raw))
        }
    }
}

/// The original server's `UserAuthLevels`, as its user document carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLevel {
    Banned = 0,
    User = 1,
    Mod = 2,
    Admin = 3,
}

impl AuthLevel {
    /// A ban outranks everything; a moderator (only imported from Tachi)
    /// is granted nothing more here than a user.
    pub fn from_flags(is_admin: bool, is_moderator: bool, is_banned: bool) -> AuthLevel {
        match (is_banned, is_admin, is_moderator) {
            (true, _, _) => AuthLevel::Banned,
            (false, true, _) => AuthLevel::Admin,
            (false, false, true) => AuthLevel::Mod,
            (false, false, false) => AuthLevel::User,
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }
}

/// Tachi's own rule (`^[a-zA-Z_-][a-zA-Z0-9_-]{2,20}$`): 3 to 21 characters,
/// so that every account imported from it can log in.
pub fn check_username(username: &str) -> Result<(), Invalid> {
    let len = username.chars().count();
    let valid_chars = username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    let starts_ok = username.chars().next().is_some_and(|c| !c.is_ascii_digit());
    if !(3..=21).contains(&len) || !valid_chars || !starts_ok {
        return Err(Invalid::new(
            "username must be 3 to 21 characters of letters, digits, '_' or '-', and not start with a digit",
        ));
    }
    Ok(())
}

pub fn check_password(password: &str) -> Result<(), Invalid> {
    let len = password.chars().count();
    if len < 8 {
        return Err(Invalid::new("password must be at least 8 characters long"));
    }
    if password.len() > 1024 {
        return Err(Invalid::new("password must be at most 1024 bytes long"));
    }
    Ok(())
}

pub fn check_email(email: &str) -> Result<(), Invalid> {
    let ok = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok { Ok(()) } else { Err(Invalid::new("email is not a valid email address")) }
}

pub fn check_about(about: &str) -> Result<(), Invalid> {
    if about.chars().count() > 2000 {
        return Err(Invalid::new("about must be at most 2000 characters long"));
    }
    if !super::is_multiline_text(about) {
        return Err(Invalid::new("about must not contain control characters (other than line breaks and tabs)"));
    }
    Ok(())
}

pub fn check_status(status: &str) -> Result<(), Invalid> {
    if status.chars().count() > 140 {
        return Err(Invalid::new("status must be at most 140 characters long"));
    }
    if status.chars().any(char::is_control) {
        return Err(Invalid::new("status must not contain control characters"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_references_are_ids_names_or_me() {
        assert_eq!(UserRef::parse("42"), UserRef::Id(Some(42)));
        assert_eq!(UserRef::parse("007"), UserRef::Id(Some(7)));
        assert_eq!(UserRef::parse("99999999999999999999999"), UserRef::Id(None));
        assert_eq!(UserRef::parse("me"), UserRef::Me);
        assert_eq!(UserRef::parse("Me"), UserRef::Name("me".into()));
        assert_eq!(UserRef::parse("ZkLdi"), UserRef::Name("zkldi".into()));
        assert_eq!(UserRef::parse("-1"), UserRef::Name("-1".into()));
        assert_eq!(UserRef::parse(""), UserRef::Name(String::new()));
    }

    #[test]
    fn auth_levels_are_the_original_numbers() {
        assert_eq!(AuthLevel::from_flags(false, false, false).number(), 1);
        assert_eq!(AuthLevel::from_flags(true, false, false).number(), 3);
        assert_eq!(AuthLevel::from_flags(false, true, false).number(), 2);
        assert_eq!(AuthLevel::from_flags(true, true, true).number(), 0);
        assert_eq!(AuthLevel::from_flags(false, false, true).number(), 0);
    }

    #[test]
    fn usernames() {
        assert!(check_username("zkldi").is_ok());
        assert!(check_username("a_b-C9").is_ok());
        assert!(check_username(&"x".repeat(21)).is_ok());
        for bad in ["ab", "1abc", "has space", "ünï", "x".repeat(22).as_str()] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn look_alike_usernames_share_a_skeleton() {
        assert_eq!(username_skeleton("paypaI"), username_skeleton("paypal"));
        assert_eq!(username_skeleton("b0b"), username_skeleton("BOB"));
        assert_eq!(username_skeleton("rnoon"), username_skeleton("moon"));
        assert_ne!(username_skeleton("alice"), username_skeleton("alicia"));
    }

    #[test]
    fn the_site_name_and_staff_titles_are_reserved() {
        assert!(is_reserved("Tachi", "Tachi"));
        assert!(is_reserved("Bokutachi", "Bokutachi"));
        assert!(is_reserved("B0kutachi", "Bokutachi"));
        assert!(is_reserved("ADMIN", "Tachi"));
        assert!(is_reserved("me", "Tachi"));
        assert!(!is_reserved("zkldi", "Bokutachi"));
    }

    #[test]
    fn emails_and_passwords() {
        assert!(check_email("a@b.co").is_ok());
        assert!(check_email("nope").is_err());
        assert!(check_email("a@b").is_err());
        assert!(check_password("short").is_err());
        assert!(check_password("long enough").is_ok());
    }

    #[test]
    fn profile_text_refuses_control_characters() {
        assert!(check_about("line one\nline two\twith a tab").is_ok());
        assert!(check_about("nul\0byte").is_err());
        assert!(check_status("fine 🎵").is_ok());
        assert!(check_status("two\nlines").is_err());
        assert!(check_status("nul\0byte").is_err());
    }
}
