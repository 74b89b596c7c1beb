//! The device authorization grant (RFC 8628): the user code a player types,
//! and what a poll of the token endpoint is answered.

use rand::Rng;

use super::{Invalid, PlainSecret, SecretHash};

/// The `grant_type` a device polls the token endpoint with.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// The polling interval a device is first given, in seconds.
pub const INTERVAL_SECS: i64 = 5;

/// What a poll that came too early adds to the interval (RFC 8628 §3.5).
pub const SLOW_DOWN_SECS: i64 = 5;

/// Consonants only (RFC 8628 §6.1): no vowels, so no words; no digits, so
/// nothing to mistake for `O` or `I`; one case, so nothing to mistake at all.
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Characters of a user code: 20^8 codes, about 34 bits, enough for codes
/// that live minutes and whose wrong guesses are limited.
const LENGTH: usize = 8;

/// A user code, normalised: eight letters of [`ALPHABET`], no dash.
#[derive(Clone, PartialEq, Eq)]
pub struct UserCode(String);

impl UserCode {
    pub fn generate() -> UserCode {
        let mut rng = rand::rng();
        UserCode((0..LENGTH).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect())
    }

    /// The code as a player typed it: any case, dashes and spaces anywhere.
    pub fn parse(typed: &str) -> Result<UserCode, Invalid> {
        if typed.len() > 64 {
            return Err(Invalid::new("that is not a code: a code has 8 letters, like WDJB-MJHT"));
        }
        let letters: String =
            typed.chars().filter(|c| !matches!(c, '-' | ' ' | '\t')).map(|c| c.to_ascii_uppercase()).collect();
        if letters.len() != LENGTH || !letters.bytes().all(|b| ALPHABET.contains(&b)) {
            return Err(Invalid::new("that is not a code: a code has 8 letters, like WDJB-MJHT"));
        }
        Ok(UserCode(letters))
    }

    /// As shown to the player: `WDJB-MJHT`.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }

    /// What is stored: the code itself is never kept.
    pub fn hash(&self) -> SecretHash {
        PlainSecret::from_presented(format!("tachi-auth user code:{}", self.0)).hash()
    }
}

impl std::fmt::Debug for UserCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UserCode(***)")
    }
}

/// Where a device authorization stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Waiting for the player.
    Pending,
    /// The player approved; the next poll takes the key.
    Approved,
    /// The player declined.
    Denied,
    /// The key was handed out; the device code is spent.
    Issued,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Pending => "pending",
            DeviceStatus::Approved => "approved",
            DeviceStatus::Denied => "denied",
            DeviceStatus::Issued => "issued",
        }
    }

    /// An unknown value (only hand editing makes one) is treated as spent.
    pub fn parse(s: &str) -> DeviceStatus {
        match s {
            "pending" => DeviceStatus::Pending,
            "approved" => DeviceStatus::Approved,
            "denied" => DeviceStatus::Denied,
            _ => DeviceStatus::Issued,
        }
    }
}

/// How a poll of the token endpoint is answered (RFC 8628 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollAnswer {
    /// Take the key (if no concurrent poll took it first).
    Issue,
    AuthorizationPending,
    /// Too early: the interval grows.
    SlowDown,
    AccessDenied,
    ExpiredToken,
    /// The key was already handed out.
    Spent,
}

/// How much earlier than the interval a poll may come without being too
/// early: a client that waits the interval after each answer arrives a
/// little early by the server's clock when one answer took longer than the next.
const POLL_GRACE_MS: i64 = 500;

/// The answer to a poll at `now` of an authorization in `status`. An approved
/// authorization is issued however early the poll: the key is handed out once
/// whatever the timing, and the storage's single-use claim decides who gets it.
pub fn poll_answer(
    status: DeviceStatus,
    expires_at: i64,
    last_polled_at: Option<i64>,
    interval_secs: i64,
    now: i64,
) -> PollAnswer {
    match status {
        DeviceStatus::Issued => return PollAnswer::Spent,
        _ if now >= expires_at => return PollAnswer::ExpiredToken,
        DeviceStatus::Denied => return PollAnswer::AccessDenied,
        DeviceStatus::Approved => return PollAnswer::Issue,
        DeviceStatus::Pending => {}
    }
    match last_polled_at {
        Some(last) if now - last < interval_secs * 1000 - POLL_GRACE_MS => PollAnswer::SlowDown,
        _ => PollAnswer::AuthorizationPending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_ignore_case_and_dashes() {
        let code = UserCode::generate();
        let shown = code.display();
        assert_eq!(shown.len(), 9);
        assert_eq!(&shown[4..5], "-");
        assert_eq!(UserCode::parse(&shown).unwrap(), code);
        assert_eq!(UserCode::parse(&shown.to_lowercase().replace('-', "")).unwrap(), code);
        assert_eq!(UserCode::parse(" wdjb - mjht ").unwrap().display(), "WDJB-MJHT");
        assert_eq!(UserCode::parse("WDJB-MJHT").unwrap().hash(), UserCode::parse("wdjbmjht").unwrap().hash());
        for bad in ["", "WDJB-MJH", "WDJB-MJHTX", "WDJB-MJH0", "AEIO-UBCD", "WDJB_MJHT", &"B".repeat(100)] {
            assert!(UserCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn generated_codes_use_the_alphabet_only() {
        for _ in 0..200 {
            let c = UserCode::generate();
            assert!(c.0.bytes().all(|b| ALPHABET.contains(&b)), "{}", c.0);
        }
        assert!(!format!("{:?}", UserCode::parse("WDJB-MJHT").unwrap()).contains("WDJB"));
    }

    #[test]
    fn polls_are_answered_as_rfc_8628_says() {
        use DeviceStatus::*;
        let (exp, now) = (10_000, 5_000);
        assert_eq!(poll_answer(Pending, exp, None, 5, now), PollAnswer::AuthorizationPending);
        assert_eq!(poll_answer(Pending, exp, Some(now - 1000), 5, now), PollAnswer::SlowDown);
        assert_eq!(poll_answer(Pending, exp, Some(now - 4600), 5, now), PollAnswer::AuthorizationPending);
        assert_eq!(poll_answer(Pending, exp, Some(now - 6000), 10, now), PollAnswer::SlowDown);
        assert_eq!(poll_answer(Approved, exp, Some(now - 10), 5, now), PollAnswer::Issue);
        assert_eq!(poll_answer(Denied, exp, None, 5, now), PollAnswer::AccessDenied);
        assert_eq!(poll_answer(Pending, exp, None, 5, exp), PollAnswer::ExpiredToken);
        assert_eq!(poll_answer(Approved, exp, None, 5, exp + 1), PollAnswer::ExpiredToken);
        assert_eq!(poll_answer(Issued, exp, None, 5, now), PollAnswer::Spent);
    }
}
