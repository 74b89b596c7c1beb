//! The domain: protocol rules in plain Rust — permissions, secrets, what a
//! valid client or account is. Nothing here knows about HTTP or SQL.

pub mod api_key;
pub mod client;
pub mod clock;
pub mod device;
pub mod entities;
pub mod exchange;
pub mod password;
pub mod permission;
pub mod pkce;
pub mod secret;
pub mod user;
pub mod webhook;

pub use clock::Clock;
pub use entities::{
    ApiKey, AuthCode, BearerKey, Client, ClientChanges, Decision, KeyCursor, NewApiKey, NewAuthCode, NewSecurityEvent,
    NewUser, PendingRequest, RequestId, SecurityEvent, Session, User, WebhookDelivery,
};
pub use permission::{Permission, PermissionSet};
pub use secret::{PlainSecret, SecretHash, SecretKind};

/// Input that breaks a domain rule; the message is shown to the caller as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(msg: impl Into<String>) -> Self {
        Invalid(msg.into())
    }
}

/// Free text a user writes over several lines (an about text, a key file
/// template): any character but the control ones, except line breaks and tabs.
/// NUL in particular is refused: PostgreSQL cannot store it.
pub fn is_multiline_text(value: &str) -> bool {
    !value.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// Milliseconds since the Unix epoch: the one time unit stored and sent.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}
