//! What an authenticated client may ask about the keys it obtained:
//! introspection (RFC 7662) and revocation (RFC 7009).
//!
//! A client only ever sees or revokes keys issued to *it*: any other key —
//! another client's, a personal key, an unknown value — is "not active" to
//! introspection and silently ignored by revocation, so neither endpoint
//! tells a client whether a value it does not own is a live key.

use crate::domain::Client;
use crate::domain::PermissionSet;
use crate::domain::api_key::PresentedKey;

use super::{Service, ServiceResult};

/// An active key, as introspection describes it.
#[derive(Debug, Clone)]
pub struct ActiveToken {
    pub user_id: i64,
    pub username: String,
    pub permissions: PermissionSet,
    pub client_id: String,
    /// Unix milliseconds.
    pub created_at: i64,
}

impl Service {
    /// RFC 7662: the key `token`, if it is live, issued to `client`, and its
    /// owner is not banned.
    pub async fn introspect(&self, client: &Client, token: &str) -> ServiceResult<Option<ActiveToken>> {
        let Some(token) = PresentedKey::parse(token) else {
            return Ok(None);
        };
        let Some(key) = self.store.bearer_key(&token).await? else {
            return Ok(None);
        };
        match key.client_id {
            Some(owner) if owner == client.client_id && !key.is_banned => Ok(Some(ActiveToken {
                user_id: key.user_id,
                username: key.username,
                permissions: key.permissions,
                client_id: owner,
                created_at: key.created_at,
            })),
            _ => Ok(None),
        }
    }

    /// RFC 7009: revokes `token` if `client` obtained it. Whether anything
    /// was revoked is deliberately not returned (the answer is 200 either way).
    pub async fn revoke_client_token(&self, client: &Client, token: &str) -> ServiceResult<()> {
        if let Some(token) = PresentedKey::parse(token) {
            self.store.delete_client_key_by_token(&token, &client.client_id).await?;
        }
        Ok(())
    }
}
