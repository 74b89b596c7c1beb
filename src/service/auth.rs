//! Who is calling: a session cookie (all permissions, the only way to manage
//! clients and keys), a bearer API key (its permissions), or nobody.

use crate::domain::api_key::PresentedKey;
use crate::domain::{Permission, PermissionSet, PlainSecret, SecretHash};

use super::{Service, ServiceError, ServiceResult};

/// How often, at most, a key's "last used" time is written: validation is a
/// read on every API request and should stay one.
const TOUCH_INTERVAL_MS: i64 = 60 * 60 * 1000;

#[derive(Debug, Clone)]
pub struct Caller {
    pub user: Option<CallerUser>,
    pub permissions: PermissionSet,
    pub via: Via,
}

#[derive(Debug, Clone)]
pub struct CallerUser {
    pub id: i64,
    pub username: String,
    pub is_admin: bool,
}

#[derive(Debug, Clone)]
pub enum Via {
    Guest,
    Session {
        session: SecretHash,
        /// The token this session's forms carry (see `PlainSecret::csrf_token`).
        csrf_token: String,
    },
    ApiKey {
        key_id: String,
        client_id: Option<String>,
    },
}

impl Caller {
    pub fn guest() -> Self {
        Caller { user: None, permissions: PermissionSet::EMPTY, via: Via::Guest }
    }

    /// The logged-in user of a session; API keys cannot manage accounts. An
    /// API key alone is no session: 401, as the original server answers.
    pub fn session_user(&self) -> ServiceResult<(&CallerUser, &SecretHash)> {
        match (&self.via, &self.user) {
            (Via::Session { session, .. }, Some(user)) => Ok((user, session)),
            (Via::ApiKey { .. }, _) => Err(ServiceError::Unauthenticated(
                "this action needs a logged-in session; an API key cannot do it".into(),
            )),
            _ => Err(ServiceError::Unauthenticated("you must be logged in to do this".into())),
        }
    }

    /// The session user, who must be `user_id`. Admins have no power over
    /// other users' keys here: the operator's commands act on accounts.
    pub fn session_self(&self, user_id: i64) -> ServiceResult<&CallerUser> {
        let (user, _) = self.session_user()?;
        if user.id != user_id {
            return Err(ServiceError::Forbidden("you can only do this for your own account".into()));
        }
        Ok(user)
    }

    /// The user (by session or key) acting on their own account with `perm`.
    pub fn acting_as(&self, user_id: i64, perm: Permission) -> ServiceResult<&CallerUser> {
        let Some(user) = &self.user else {
            return Err(ServiceError::Unauthenticated("you must be authenticated to do this".into()));
        };
        if user.id != user_id {
            return Err(ServiceError::Forbidden("you can only do this for your own account".into()));
        }
        if !self.permissions.contains(perm) {
            return Err(ServiceError::InsufficientScope(perm));
        }
        Ok(user)
    }
}

impl Service {
    /// Authenticates a request from its `Authorization` header (preferred
    /// when present) or its session cookie value.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
        session_cookie: Option<&str>,
    ) -> ServiceResult<Caller> {
        if let Some(header) = authorization {
            let result = self.authenticate_bearer(header).await;
            crate::telemetry::count(
                "tachi_bearer_authentications_total",
                match &result {
                    Ok(_) => "ok",
                    Err(ServiceError::InvalidToken(_)) => "invalid_key",
                    Err(ServiceError::Forbidden(_)) => "banned",
                    Err(ServiceError::Invalid(_)) => "malformed",
                    Err(_) => "error",
                },
            );
            return result;
        }
        match session_cookie {
            Some(value) if !value.is_empty() => Ok(self.session_caller(value).await?.unwrap_or_else(Caller::guest)),
            _ => Ok(Caller::guest()),
        }
    }

    async fn authenticate_bearer(&self, header: &str) -> ServiceResult<Caller> {
        let (scheme, token) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ServiceError::Invalid(
                "unsupported Authorization scheme; use 'Authorization: Bearer <api key>'".into(),
            ));
        }
        let token = token.trim();
        if token.is_empty() {
            return Err(ServiceError::InvalidToken("the API key is missing".into()));
        }
        let not_valid = || ServiceError::InvalidToken("this API key is not valid (unknown or revoked)".into());
        let token = PresentedKey::parse(token).ok_or_else(not_valid)?;
        let Some(key) = self.store.bearer_key(&token).await? else {
            return Err(not_valid());
        };
        if key.is_banned {
            return Err(ServiceError::Forbidden("this account is banned".into()));
        }
        let now = self.now_ms();
        if key.last_used_at.is_none_or(|t| now - t > TOUCH_INTERVAL_MS) {
            self.store.touch_key(&token.hash, &key.key_id, now);
        }
        Ok(Caller {
            user: Some(CallerUser { id: key.user_id, username: key.username, is_admin: key.is_admin }),
            permissions: key.permissions,
            via: Via::ApiKey { key_id: key.key_id, client_id: key.client_id },
        })
    }

    /// The caller behind a session cookie; `None` for an unknown or expired one.
    pub async fn session_caller(&self, cookie_value: &str) -> ServiceResult<Option<Caller>> {
        if cookie_value.len() > 256 {
            return Ok(None);
        }
        let cookie = PlainSecret::from_presented(cookie_value);
        let session = cookie.hash();
        let Some(su) = self.store.session_user(&session, self.now_ms()).await? else {
            return Ok(None);
        };
        if su.is_banned {
            return Err(ServiceError::Forbidden("this account is banned".into()));
        }
        Ok(Some(Caller {
            user: Some(CallerUser { id: su.user_id, username: su.username, is_admin: su.is_admin }),
            permissions: PermissionSet::all(),
            via: Via::Session { session, csrf_token: cookie.csrf_token() },
        }))
    }
}
