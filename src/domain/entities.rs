//! The nouns of the service: accounts, sessions, clients, keys, pending
//! authorization requests and codes, and the security log's events, as the
//! rest of the code handles them. Storage decodes its rows into these
//! (`storage/records.rs`); services and handlers take and return them.

use crate::domain::{PermissionSet, SecretHash};

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub about: String,
    pub status: Option<String>,
    pub is_admin: bool,
    pub is_banned: bool,
    pub created_at: i64,
    /// Tachi's profile fields (migration 0009), kept for accounts imported
    /// from it: `lastSeen` (unix ms), `socialMedia` (a JSON object as text),
    /// `badges` (a JSON array as text), the custom picture and banner
    /// locations, `isSupporter`, and the auth level MOD.
    pub last_seen: Option<i64>,
    pub social_media: String,
    pub badges: String,
    pub custom_pfp_location: Option<String>,
    pub custom_banner_location: Option<String>,
    pub is_supporter: bool,
    pub is_moderator: bool,
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    /// `domain::user::username_skeleton` of the name.
    pub username_skeleton: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub created_at: i64,
}

/// The identity behind a session cookie, as the request authenticator needs it.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    pub is_banned: bool,
    /// So that a cached session ends on time.
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct Client {
    pub client_id: String,
    pub secret_hash: SecretHash,
    pub name: String,
    /// `None` for a built-in client, defined by the operator's configuration.
    pub author_id: Option<i64>,
    pub redirect_uri: Option<String>,
    pub webhook_uri: Option<String>,
    pub permissions: PermissionSet,
    pub api_key_format: Option<String>,
    pub api_key_filename: Option<String>,
    pub require_pkce: bool,
    /// A public client (RFC 8252): no secret, PKCE required.
    pub public: bool,
    /// The grants it allows (the code grant unless its author added others).
    pub grants: crate::domain::client::Grants,
    pub created_at: i64,
}

/// The editable fields of a client; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub redirect_uri: Option<Option<String>>,
    pub webhook_uri: Option<Option<String>>,
    pub api_key_format: Option<Option<String>>,
    pub api_key_filename: Option<Option<String>>,
    pub require_pkce: Option<bool>,
    pub grants: Option<crate::domain::client::Grants>,
}

/// Which pending request a consent page showed: its form posts it back, so
/// approving approves exactly that request. Derived from the session and
/// the request (see `PendingRequest::id_in`): showing the same request again
/// names the same row instead of adding one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 32]);

impl RequestId {
    /// What a stored id that is not 32 bytes long reads as; no request shown has it.
    pub const NONE: RequestId = RequestId([0; 32]);

    pub fn from_bytes(bytes: &[u8]) -> Option<RequestId> {
        bytes.try_into().ok().map(RequestId)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// 64 lowercase hex digits, as the consent form carries it.
    pub fn to_hex(&self) -> String {
        crate::domain::secret::hex(&self.0)
    }

    pub fn parse(hex: &str) -> Option<RequestId> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut id = [0; 32];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(RequestId(id))
    }
}

/// The user's answer to an authorization request on the consent screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Decline,
}

impl Decision {
    /// The consent form's `decision` field.
    pub fn parse(value: &str) -> Option<Decision> {
        match value {
            "approve" => Some(Decision::Approve),
            "decline" => Some(Decision::Decline),
            _ => None,
        }
    }
}

/// An authorization request the consent screen showed and the user has not
/// answered yet.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub id: RequestId,
    pub client_id: String,
    pub redirect_uri: String,
    pub permissions: PermissionSet,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub context: Option<String>,
    /// Came through `/oauth/authorize`: a decline is reported to the client.
    pub standard: bool,
    pub created_at: i64,
}

/// A stored authorization code is the exchange rule's own noun.
pub use crate::domain::exchange::AuthCode;

/// The code an approval creates. Its client, redirect URI, permissions and
/// challenge are those of the pending request it approves, read in the same
/// transaction that takes it.
#[derive(Clone, Copy)]
pub struct NewAuthCode {
    pub code_hash: SecretHash,
    pub user_id: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Where a listing of a user's keys stopped: the last key's creation time and id.
pub type KeyCursor = (i64, String);

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub user_id: i64,
    pub identifier: String,
    pub permissions: PermissionSet,
    pub client_id: Option<String>,
    /// The issuing client's name, when the key came from one.
    pub client_name: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Clone)]
pub struct NewApiKey {
    pub id: String,
    pub token_hash: SecretHash,
    pub user_id: i64,
    pub identifier: String,
    pub permissions: PermissionSet,
    pub client_id: Option<String>,
    pub created_at: i64,
}

impl NewApiKey {
    /// The record of a key just inserted.
    pub fn into_record(self) -> ApiKey {
        ApiKey {
            id: self.id,
            user_id: self.user_id,
            identifier: self.identifier,
            permissions: self.permissions,
            client_id: self.client_id,
            client_name: None,
            created_at: self.created_at,
            last_used_at: None,
        }
    }
}

/// What bearer validation needs, from one indexed lookup.
#[derive(Debug, Clone)]
pub struct BearerKey {
    pub key_id: String,
    pub user_id: i64,
    pub username: String,
    pub permissions: PermissionSet,
    pub client_id: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub is_admin: bool,
    pub is_banned: bool,
}

/// One event as recorded. Never a secret: the fields are names, ids and
/// the request's address and user agent.
#[derive(Debug, Clone)]
pub struct SecurityEvent {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub event: String,
    /// Who did it: `user`, `operator`, `client deletion`, `replayed code`, `system`.
    pub actor: String,
    pub client_id: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event to record.
pub struct NewSecurityEvent<'a> {
    pub at: i64,
    pub user_id: Option<i64>,
    pub event: &'a str,
    pub actor: &'a str,
    pub client_id: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

/// A webhook event as its client's author sees it listed: never its body or
/// the signing secret.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub event_id: String,
    pub event: String,
    pub created_at: i64,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub finished_at: Option<i64>,
    pub last_status: Option<i64>,
    pub last_error: Option<String>,
}
