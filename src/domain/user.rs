//! Accounts: what a valid username, password, email and profile are.

use super::Invalid;

/// Usernames are unique case-insensitively; this is the form compared.
pub fn username_key(username: &str) -> String {
    username.to_lowercase()
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
    fn usernames() {
        assert!(check_username("zkldi").is_ok());
        assert!(check_username("a_b-C9").is_ok());
        assert!(check_username(&"x".repeat(21)).is_ok());
        for bad in ["ab", "1abc", "has space", "ünï", "x".repeat(22).as_str()] {
            assert!(check_username(bad).is_err(), "{bad}");
        }
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
