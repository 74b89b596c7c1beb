//! API keys: a user's own keys, and the Client File Flow.

use serde::Deserialize;

use crate::domain::{ApiKey, Client, KeyCursor, NewApiKey};
use crate::domain::{Invalid, PermissionSet, PlainSecret, SecretHash, api_key};
use crate::storage::Store;

use super::audit::actor;
use super::{Caller, Service, ServiceError, ServiceResult};

/// `{clientID}` asks for a key for that client (Client File Flow);
/// `{permissions, identifier?}` for a personal key.
#[derive(Debug, Deserialize)]
#[serde(try_from = "KeyRequestWire")]
pub enum KeyRequest {
    ForClient { client_id: String },
    Personal { permissions: PermissionSet, identifier: Option<String> },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequestWire {
    #[serde(rename = "clientID")]
    client_id: Option<String>,
    permissions: Option<PermissionSet>,
    identifier: Option<String>,
}

impl TryFrom<KeyRequestWire> for KeyRequest {
    type Error = String;
    fn try_from(w: KeyRequestWire) -> Result<Self, String> {
        match (w.client_id, w.permissions, w.identifier) {
            // A client's key is named after the client: an identifier sent
            // with a clientID is ignored, as the original server ignores it.
            (Some(client_id), None, _) => Ok(KeyRequest::ForClient { client_id }),
            (None, Some(permissions), identifier) => Ok(KeyRequest::Personal { permissions, identifier }),
            (Some(_), Some(_), _) => {
                Err("send either clientID, or permissions (and identifier): not clientID and permissions together"
                    .into())
            }
            (None, None, _) => Err("send clientID (for a client's key) or permissions (for a personal key)".into()),
        }
    }
}

/// A key just issued: the token is shown in this response only.
#[derive(Debug)]
pub struct IssuedKey {
    pub key: ApiKey,
    pub token: PlainSecret,
    /// For a client's key: the client, and how many earlier keys it replaced.
    pub client: Option<(Client, u64)>,
}

/// The key document's identifier for keys a client obtains.
pub fn client_key_identifier(client_name: &str) -> String {
    format!("{client_name} Token")
}

/// Keys per page of [`KeyPages`].
const KEY_PAGE: usize = 500;

/// A user's keys, read a page at a time in listing order: a listing of any
/// length holds one page in memory, not all of them.
pub struct KeyPages {
    store: Store,
    user_id: i64,
    after: Option<KeyCursor>,
    done: bool,
}

impl KeyPages {
    /// The next page, or `None` once every key has been read.
    pub async fn next_page(&mut self) -> ServiceResult<Option<Vec<ApiKey>>> {
        if self.done {
            return Ok(None);
        }
        let page = self.store.keys_of_user_after(self.user_id, self.after.as_ref(), KEY_PAGE as i64).await?;
        self.done = page.len() < KEY_PAGE;
        self.after = page.last().map(|k| (k.created_at, k.id.clone()));
        Ok((!page.is_empty()).then_some(page))
    }
}

impl Service {
    /// Up to `size` of a user's keys in listing order, after `after`, and
    /// whether more follow: one screen of the dashboard, however many keys
    /// the user has.
    pub async fn key_page(
        &self,
        caller: &Caller,
        user_id: i64,
        after: Option<&KeyCursor>,
        size: usize,
    ) -> ServiceResult<(Vec<ApiKey>, bool)> {
        caller.session_self(user_id)?;
        let mut keys = self.store.keys_of_user_after(user_id, after, size as i64 + 1).await?;
        let more = keys.len() > size;
        keys.truncate(size);
        Ok((keys, more))
    }

    /// A user's keys in listing order, to be read a page at a time.
    pub fn key_pages(&self, caller: &Caller, user_id: i64) -> ServiceResult<KeyPages> {
        caller.session_self(user_id)?;
        Ok(KeyPages { store: self.store.clone(), user_id, after: None, done: false })
    }

    pub async fn create_key(&self, caller: &Caller, user_id: i64, req: KeyRequest) -> ServiceResult<IssuedKey> {
        caller.session_self(user_id)?;
        self.profile(user_id).await?;
        match req {
            KeyRequest::ForClient { client_id } => self.create_client_key(user_id, &client_id).await,
            KeyRequest::Personal { permissions, identifier } => {
                if permissions.is_empty() {
                    return Err(Invalid::new("permissions must name at least one permission").into());
                }
                let identifier = identifier.unwrap_or_else(|| "Custom Token".into()); // the original server's default
                let len = identifier.trim().chars().count();
                if !(1..=120).contains(&len) || identifier.chars().any(char::is_control) {
                    return Err(
                        Invalid::new("identifier must be 1 to 120 characters without control characters").into()
                    );
                }
                let (key_id, token) = api_key::generate();
                let new = self.new_key(key_id, token.hash(), user_id, identifier.trim().to_owned(), permissions, None);
                let cap = self.settings.personal_key_cap;
                let Some(key) = self.store.insert_personal_key_capped(new, cap).await? else {
                    return Err(ServiceError::Conflict(format!(
                        "you already hold the maximum of {cap} personal API keys; revoke one first"
                    )));
                };
                self.record(Some(user_id), "API key created", actor::USER, None, Some(&key.id)).await;
                crate::telemetry::count("tachi_api_keys_created_total", "personal");
                Ok(IssuedKey { key, token, client: None })
            }
        }
    }

    /// The Client File Flow: a key with the client's permissions. Keys are
    /// stored hashed, so an existing one cannot be shown again; a fresh one
    /// is issued and the user's previous key for this client is revoked.
    pub async fn create_client_key(&self, user_id: i64, client_id: &str) -> ServiceResult<IssuedKey> {
        let client = self.client(client_id).await?;
        let (key_id, token) = api_key::generate();
        let identifier = client_key_identifier(&client.name);
        let new =
            self.new_key(key_id, token.hash(), user_id, identifier, client.permissions, Some(client.client_id.clone()));
        let (mut key, replaced) = self.store.replace_client_key(new).await?;
        key.client_name = Some(client.name.clone());
        self.record(Some(user_id), "API key created", actor::USER, Some(&client.client_id), Some(&key.id)).await;
        crate::telemetry::count("tachi_api_keys_created_total", "client_file_flow");
        Ok(IssuedKey { key, token, client: Some((client, replaced)) })
    }

    pub async fn revoke_key(&self, caller: &Caller, user_id: i64, key_id: &str) -> ServiceResult<()> {
        caller.session_self(user_id)?;
        let well_formed = crate::domain::secret::is_well_formed_id(key_id);
        let client = if well_formed { self.store.client_of_key(user_id, key_id).await? } else { None };
        if !well_formed || !self.store.delete_user_key(user_id, key_id).await? {
            return Err(ServiceError::NotFound(format!("user {user_id} has no API key with the id '{key_id}'")));
        }
        // Revoking an app's key disconnects the app.
        let event = if client.is_some() { "app disconnected" } else { "API key revoked" };
        self.record(Some(user_id), event, actor::USER, client.as_deref(), Some(key_id)).await;
        crate::telemetry::count("tachi_api_keys_revoked_total", "by_user");
        Ok(())
    }
}

impl Service {
    pub(super) fn new_key(
        &self,
        id: String,
        token_hash: SecretHash,
        user_id: i64,
        identifier: String,
        permissions: PermissionSet,
        client_id: Option<String>,
    ) -> NewApiKey {
        NewApiKey { id, token_hash, user_id, identifier, permissions, client_id, created_at: self.now_ms() }
    }
}
