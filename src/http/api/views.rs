//! The JSON documents the API sends: users, clients, API keys and the
//! security log's events.

use serde::Serialize;

use crate::domain::permission::PermissionMap;
use crate::domain::user::AuthLevel;
use crate::domain::{ApiKey, Client, PermissionSet, PlainSecret, SecurityEvent, User, WebhookDelivery};

/// The original server's `UserDocument`. Accounts imported from Tachi keep
/// its profile fields; an account made here has what a new Tachi account has
/// (no social media, no badges, no custom images), and `lastSeen` is its join
/// date. Never the e-mail or the password hash.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub username_lowercase: String,
    pub about: String,
    pub status: Option<String>,
    pub join_date: i64,
    pub last_seen: i64,
    /// A JSON object (Tachi's `socialMedia`), as imported.
    pub social_media: serde_json::Value,
    /// A JSON array of badge names, as imported.
    pub badges: serde_json::Value,
    /// `UserAuthLevels`: 0 banned, 1 user, 2 mod, 3 admin.
    pub auth_level: u8,
    pub custom_pfp_location: Option<String>,
    pub custom_banner_location: Option<String>,
}

/// The one mapping from a user record to the user document.
impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView {
            id: u.id,
            username: u.username.clone(),
            username_lowercase: crate::domain::user::username_key(&u.username),
            about: u.about.clone(),
            status: u.status.clone(),
            join_date: u.created_at,
            last_seen: u.last_seen.unwrap_or(u.created_at),
            social_media: json_or(&u.social_media, serde_json::json!({})),
            badges: json_or(&u.badges, serde_json::json!([])),
            auth_level: AuthLevel::from_flags(u.is_admin, u.is_moderator, u.is_banned).number(),
            custom_pfp_location: u.custom_pfp_location.clone(),
            custom_banner_location: u.custom_banner_location.clone(),
        }
    }
}

/// A profile field stored as JSON text; `empty` if it is not (it always is:
/// only the import writes these, from parsed documents).
fn json_or(text: &str, empty: serde_json::Value) -> serde_json::Value {
    serde_json::from_str(text).ok().filter(|v: &serde_json::Value| v.is_object() || v.is_array()).unwrap_or(empty)
}

#[derive(Serialize)]
pub struct ClientView<'a> {
    #[serde(rename = "clientID")]
    pub client_id: &'a str,
    /// Present only in the response that created or reset it.
    #[serde(rename = "clientSecret", skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<&'a str>,
    /// The webhook signing secret: present only in the response that created
    /// or rotated it.
    #[serde(rename = "webhookSecret", skip_serializing_if = "Option::is_none")]
    pub webhook_secret: Option<&'a str>,
    pub name: &'a str,
    /// `null` for a built-in client.
    pub author: Option<i64>,
    #[serde(rename = "redirectUri")]
    pub redirect_uri: Option<&'a str>,
    #[serde(rename = "webhookUri")]
    pub webhook_uri: Option<&'a str>,
    #[serde(rename = "requestedPermissions")]
    pub requested_permissions: PermissionSet,
    #[serde(rename = "apiKeyFormat")]
    pub api_key_format: Option<&'a str>,
    /// The original server's name for `apiKeyFormat`, which its pages read.
    #[serde(rename = "apiKeyTemplate")]
    pub api_key_template: Option<&'a str>,
    #[serde(rename = "apiKeyFilename")]
    pub api_key_filename: Option<&'a str>,
    #[serde(rename = "requirePKCE")]
    pub require_pkce: bool,
    /// A public client (no secret, PKCE required).
    pub public: bool,
    /// The grants it allows: `authorization_code`, `device_code`.
    pub grants: Vec<&'static str>,
    #[serde(rename = "createdOn")]
    pub created_on: i64,
}

impl<'a> ClientView<'a> {
    pub fn new(c: &'a Client, secret: Option<&'a str>) -> Self {
        ClientView {
            client_id: &c.client_id,
            client_secret: secret,
            webhook_secret: None,
            name: &c.name,
            author: c.author_id,
            redirect_uri: c.redirect_uri.as_deref(),
            webhook_uri: c.webhook_uri.as_deref(),
            requested_permissions: c.permissions,
            api_key_format: c.api_key_format.as_deref(),
            api_key_template: c.api_key_format.as_deref(),
            api_key_filename: c.api_key_filename.as_deref(),
            require_pkce: c.require_pkce,
            public: c.public,
            grants: c.grants.names(),
            created_on: c.created_at,
        }
    }
}

/// The seeds' APIKeyDocument, plus the key's id (to revoke it), the issuing
/// client's name and its times. `token` is present only when just issued.
/// The issuing client is under both names: the seeds' `fromOAuth2Client` and
/// the original server's `fromAPIClient`, which its code and clients read.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyDocument<'a> {
    #[serde(rename = "userID")]
    pub user_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    pub identifier: &'a str,
    pub permissions: PermissionMap,
    #[serde(rename = "fromOAuth2Client")]
    pub from_oauth2_client: Option<&'a str>,
    #[serde(rename = "fromAPIClient")]
    pub from_api_client: Option<&'a str>,
    #[serde(rename = "id")]
    pub key_id: &'a str,
    pub client_name: Option<&'a str>,
    pub created_on: i64,
    pub last_used: Option<i64>,
}

/// A key just issued, with its token, serialized straight into the answer:
/// through a `serde_json::Value` the token exchange built its JSON twice.
pub struct IssuedKeyDocument {
    pub key: ApiKey,
    pub token: PlainSecret,
}

impl Serialize for IssuedKeyDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyDocument::new(&self.key, Some(self.token.expose())).serialize(serializer)
    }
}

/// A key as the list route shows it, serialized straight from its record:
/// a `serde_json::Value` per key would be many small allocations for every
/// key of a list that may be long.
pub struct ListedKey(pub ApiKey);

impl Serialize for ListedKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyDocument::new(&self.0, None).serialize(serializer)
    }
}

impl<'a> KeyDocument<'a> {
    pub fn new(k: &'a ApiKey, token: Option<&'a str>) -> Self {
        KeyDocument {
            user_id: k.user_id,
            token,
            identifier: &k.identifier,
            permissions: PermissionMap(k.permissions),
            from_oauth2_client: k.client_id.as_deref(),
            from_api_client: k.client_id.as_deref(),
            key_id: &k.id,
            client_name: k.client_name.as_deref(),
            created_on: k.created_at,
            last_used: k.last_used_at,
        }
    }
}

/// A webhook delivery as a client's author sees it: never the body.
#[derive(Serialize)]
pub struct DeliveryView<'a> {
    #[serde(rename = "eventID")]
    pub event_id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    #[serde(rename = "createdOn")]
    pub created_on: i64,
    /// `pending`, `delivered` or `failed`.
    pub state: &'a str,
    pub attempts: i64,
    /// When the next attempt is due (pending deliveries).
    #[serde(rename = "nextAttemptOn", skip_serializing_if = "Option::is_none")]
    pub next_attempt_on: Option<i64>,
    #[serde(rename = "finishedOn")]
    pub finished_on: Option<i64>,
    /// The HTTP status of the last attempt, if it got one.
    #[serde(rename = "lastStatus")]
    pub last_status: Option<i64>,
    #[serde(rename = "lastError")]
    pub last_error: Option<&'a str>,
}

impl<'a> DeliveryView<'a> {
    pub fn new(d: &'a WebhookDelivery) -> Self {
        DeliveryView {
            event_id: &d.event_id,
            kind: &d.event,
            created_on: d.created_at,
            state: &d.state,
            attempts: d.attempts,
            next_attempt_on: (d.state == "pending").then_some(d.next_attempt_at),
            finished_on: d.finished_at,
            last_status: d.last_status,
            last_error: d.last_error.as_deref(),
        }
    }
}

/// An event of the security log, as `GET /users/:userID/security-log` and
/// `tachi-auth audit` list it.
#[derive(Serialize)]
pub struct SecurityEventView {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub event: String,
    pub actor: String,
    pub client_id: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl From<SecurityEvent> for SecurityEventView {
    fn from(e: SecurityEvent) -> Self {
        SecurityEventView {
            id: e.id,
            at: e.at,
            user_id: e.user_id,
            event: e.event,
            actor: e.actor,
            client_id: e.client_id,
            detail: e.detail,
            ip: e.ip,
            user_agent: e.user_agent,
        }
    }
}
