//! The JSON documents the API sends: users, clients and API key documents.

use serde::Serialize;

use crate::domain::permission::PermissionMap;
use crate::domain::{PermissionSet, PlainSecret};
use crate::storage::{ApiKeyRecord, ClientRecord, UserRecord};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub username_lowercase: String,
    pub about: String,
    pub status: Option<String>,
    pub join_date: i64,
    pub auth_level: &'static str,
}

impl From<&UserRecord> for UserView {
    fn from(u: &UserRecord) -> Self {
        UserView {
            id: u.id,
            username: u.username.clone(),
            username_lowercase: u.username.to_lowercase(),
            about: u.about.clone(),
            status: u.status.clone(),
            join_date: u.created_at,
            auth_level: if u.is_admin { "admin" } else { "user" },
        }
    }
}

#[derive(Serialize)]
pub struct ClientView<'a> {
    #[serde(rename = "clientID")]
    pub client_id: &'a str,
    /// Present only in the response that created or reset it.
    #[serde(rename = "clientSecret", skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<&'a str>,
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
    #[serde(rename = "apiKeyFilename")]
    pub api_key_filename: Option<&'a str>,
    #[serde(rename = "requirePKCE")]
    pub require_pkce: bool,
    #[serde(rename = "createdOn")]
    pub created_on: i64,
}

impl<'a> ClientView<'a> {
    pub fn new(c: &'a ClientRecord, secret: Option<&'a str>) -> Self {
        ClientView {
            client_id: &c.client_id,
            client_secret: secret,
            name: &c.name,
            author: c.author_id,
            redirect_uri: c.redirect_uri.as_deref(),
            webhook_uri: c.webhook_uri.as_deref(),
            requested_permissions: c.permissions,
            api_key_format: c.api_key_format.as_deref(),
            api_key_filename: c.api_key_filename.as_deref(),
            require_pkce: c.require_pkce,
            created_on: c.created_at,
        }
    }
}

/// The seeds' APIKeyDocument, plus the key's id (to revoke it), the issuing
/// client's name and its times. `token` is present only when just issued.
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
    #[serde(rename = "id")]
    pub key_id: &'a str,
    pub client_name: Option<&'a str>,
    pub created_on: i64,
    pub last_used: Option<i64>,
}

/// A key just issued, with its token, serialized straight into the answer:
/// through a `serde_json::Value` the token exchange built its JSON twice.
pub struct IssuedKeyDocument {
    pub key: ApiKeyRecord,
    pub token: PlainSecret,
}

impl Serialize for IssuedKeyDocument {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyDocument::new(&self.key, Some(self.token.expose())).serialize(serializer)
    }
}

/// A key as the list route shows it, serialized straight from its record:
/// building a `serde_json::Value` per key first cost ~2 KB of small
/// allocations per key.
pub struct ListedKey(pub ApiKeyRecord);

impl Serialize for ListedKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        KeyDocument::new(&self.0, None).serialize(serializer)
    }
}

impl<'a> KeyDocument<'a> {
    pub fn new(k: &'a ApiKeyRecord, token: Option<&'a str>) -> Self {
        KeyDocument {
            user_id: k.user_id,
            token,
            identifier: &k.identifier,
            permissions: PermissionMap(k.permissions),
            from_oauth2_client: k.client_id.as_deref(),
            key_id: &k.id,
            client_name: k.client_name.as_deref(),
            created_on: k.created_at,
            last_used: k.last_used_at,
        }
    }
}
