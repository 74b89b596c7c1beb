//! Accounts: registration, login sessions and the public profile.

use serde::Deserialize;

use crate::domain::user::UserRef;
use crate::domain::{Invalid, Permission, PlainSecret, SecretKind, now_ms, password, user};
use crate::storage::{NewUser, StoreError, UserRecord};

use super::{Caller, Service, ServiceError, ServiceResult, blocking};

/// Unknown fields are ignored: Tachi's own front end sends extra ones (captcha, invite code).
/// No `Debug`: it holds a password, and must never be printed.
#[derive(Deserialize)]
pub struct Registration {
    pub username: String,
    #[serde(rename = "!password")]
    pub password: String,
    pub email: String,
}

/// No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct Credentials {
    pub username: String,
    #[serde(rename = "!password")]
    pub password: String,
}

/// A session just opened: the cookie value is handed to the browser once.
#[derive(Debug)]
pub struct NewSession {
    pub user: UserRecord,
    pub cookie: PlainSecret,
}

/// Profile fields a user can change. `status: null` clears the status;
/// `about: null` is refused, as the original server refuses it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChanges {
    #[serde(default, deserialize_with = "crate::service::present")]
    pub about: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::service::present")]
    pub status: Option<Option<String>>,
}

impl Service {
    pub async fn register(&self, r: Registration, ip: &str) -> ServiceResult<NewSession> {
        user::check_username(&r.username)?;
        user::check_password(&r.password)?;
        user::check_email(&r.email)?;
        self.limits.register_ip.hit(ip).map_err(|retry_after_secs| ServiceError::RateLimited { retry_after_secs })?;
        let key = user::username_key(&r.username);
        if self.store.user_by_username_key(&key).await?.is_some() {
            return Err(ServiceError::Conflict(format!("the username '{}' is taken", r.username)));
        }
        let password = r.password;
        let hash = blocking(move || password::hash(&password)).await?.map_err(|_| ServiceError::Internal)?;
        let id = match self
            .store
            .insert_user(&NewUser {
                username: &r.username,
                username_key: &key,
                email: &r.email,
                password_hash: &hash,
                created_at: now_ms(),
            })
            .await
        {
            Ok(id) => id,
            Err(StoreError::Conflict) => {
                return Err(ServiceError::Conflict(format!("the username '{}' is taken", r.username)));
            }
            Err(e) => return Err(e.into()),
        };
        let user = self.store.user_by_id(id).await?.ok_or(ServiceError::Internal)?;
        self.open_session(user).await
    }

    /// Checks a password and opens a new session. Every login gets a fresh
    /// session id, so a session id planted before login is worthless after it.
    pub async fn login(&self, c: Credentials, ip: &str) -> ServiceResult<NewSession> {
        let key = user::username_key(&c.username);
        let limited = |secs| ServiceError::RateLimited { retry_after_secs: secs };
        self.limits.login_account.check(&key).map_err(limited)?;
        self.limits.login_ip.check(ip).map_err(limited)?;
        // A name no account can have is not looked up (it may not even be
        // storable, e.g. with a NUL); the password is still hashed below.
        let found =
            if user::check_username(&c.username).is_ok() { self.store.user_by_username_key(&key).await? } else { None };
        let stored = found.as_ref().map(|u| u.password_hash.clone());
        let password = c.password;
        let ok = blocking(move || password::verify(&password, stored.as_deref())).await?;
        let user = match found {
            Some(u) if ok => u,
            _ => {
                self.limits.login_account.record(&key);
                self.limits.login_ip.record(ip);
                return Err(ServiceError::Unauthenticated("wrong username or password".into()));
            }
        };
        if user.is_banned {
            return Err(ServiceError::Forbidden("this account is banned".into()));
        }
        self.limits.login_account.clear(&key);
        self.open_session(user).await
    }

    async fn open_session(&self, user: UserRecord) -> ServiceResult<NewSession> {
        let cookie = PlainSecret::generate(SecretKind::Session);
        let now = now_ms();
        let expires = now + self.settings.session_lifetime.as_millis() as i64;
        self.store.insert_session(&cookie.hash(), user.id, now, expires).await?;
        Ok(NewSession { user, cookie })
    }

    /// Ends the caller's session. Without one (a guest, or an API key alone)
    /// there is nothing to end: a conflict, as the original server answers.
    pub async fn logout(&self, caller: &Caller) -> ServiceResult<()> {
        let Ok((_, session)) = caller.session_user() else {
            return Err(ServiceError::Conflict("You are not logged in.".into()));
        };
        self.store.delete_session(session).await?;
        Ok(())
    }

    /// The user a route's `:userID` names: an id, a username in any case, or
    /// `me` (the caller, by session or key). The one place every
    /// `/users/:userID/...` route resolves its user.
    pub async fn resolve_user(&self, caller: &Caller, raw: &str) -> ServiceResult<UserRecord> {
        let found = match UserRef::parse(raw) {
            UserRef::Me => {
                let Some(me) = &caller.user else {
                    return Err(ServiceError::Unauthenticated("Cannot use 'me' userID with no authentication.".into()));
                };
                self.store.user_by_id(me.id).await?
            }
            UserRef::Id(Some(id)) => self.store.user_by_id(id).await?,
            UserRef::Id(None) => None,
            // A name no account can have is not looked up (PostgreSQL cannot
            // even compare one with a NUL in it).
            UserRef::Name(key) if key.len() > 64 || key.chars().any(char::is_control) => None,
            UserRef::Name(key) => self.store.user_by_username_key(&key).await?,
        };
        found.ok_or_else(|| ServiceError::NotFound(format!("The user {raw} does not exist.")))
    }

    pub async fn profile(&self, user_id: i64) -> ServiceResult<UserRecord> {
        self.store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user has the id {user_id}")))
    }

    pub async fn update_profile(&self, caller: &Caller, user_id: i64, ch: ProfileChanges) -> ServiceResult<UserRecord> {
        caller.acting_as(user_id, Permission::CustomiseProfile)?;
        if ch.about.is_none() && ch.status.is_none() {
            return Err(Invalid::new("nothing to change: send about and/or status").into());
        }
        let about = match ch.about {
            Some(None) => return Err(Invalid::new("Cannot set about me to null.").into()),
            Some(Some(about)) => Some(about),
            None => None,
        };
        if let Some(about) = &about {
            user::check_about(about)?;
        }
        if let Some(Some(status)) = &ch.status {
            user::check_status(status)?;
        }
        let status = ch.status.as_ref().map(|s| s.as_deref());
        self.store
            .update_profile(user_id, about.as_deref(), status)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user has the id {user_id}")))
    }
}
