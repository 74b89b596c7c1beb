//! Accounts: registration, login sessions and the public profile.

use serde::Deserialize;

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

/// Profile fields a user can change. `status: null` clears the status.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileChanges {
    pub about: Option<String>,
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
        let (ok, upgraded) = blocking(move || password::verify_and_upgrade(&password, stored.as_deref())).await?;
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
        if let Some(hash) = upgraded {
            // A bcrypt hash imported from Tachi: replaced now that the password is known.
            self.store.upgrade_password_hash(user.id, &user.password_hash, &hash).await?;
        }
        self.open_session(user).await
    }

    async fn open_session(&self, user: UserRecord) -> ServiceResult<NewSession> {
        let cookie = PlainSecret::generate(SecretKind::Session);
        let now = now_ms();
        let expires = now + self.settings.session_lifetime.as_millis() as i64;
        self.store.insert_session(&cookie.hash(), user.id, now, expires).await?;
        Ok(NewSession { user, cookie })
    }

    pub async fn logout(&self, caller: &Caller) -> ServiceResult<()> {
        let (_, session) = caller.session_user()?;
        self.store.delete_session(session).await?;
        Ok(())
    }

    pub async fn profile(&self, user_id: i64) -> ServiceResult<UserRecord> {
        self.store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user has the id {user_id}")))
    }

    pub async fn update_profile(&self, caller: &Caller, user_id: i64, ch: ProfileChanges) -> ServiceResult<UserRecord> {
        self.profile(user_id).await?;
        caller.acting_as(user_id, Permission::CustomiseProfile)?;
        if ch.about.is_none() && ch.status.is_none() {
            return Err(Invalid::new("nothing to change: send about and/or status").into());
        }
        if let Some(about) = &ch.about {
            user::check_about(about)?;
        }
        if let Some(Some(status)) = &ch.status {
            user::check_status(status)?;
        }
        let status = ch.status.as_ref().map(|s| s.as_deref());
        self.store
            .update_profile(user_id, ch.about.as_deref(), status)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user has the id {user_id}")))
    }
}
