//! Accounts: registration, login sessions and the public profile.

use std::time::Instant;

use serde::Deserialize;

use crate::domain::user::UserRef;
use crate::domain::{Invalid, NewUser, Permission, PlainSecret, SecretKind, User, password, user};
use crate::storage::StoreError;

use super::audit::actor;
use super::limits::{Counter, LimitKey, Limits};
use super::{Caller, Service, ServiceError, ServiceResult, blocking};

fn limited(retry_after_secs: u64) -> ServiceError {
    ServiceError::RateLimited { retry_after_secs }
}

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
    pub user: User,
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
        if user::is_reserved(&r.username, &self.settings.site_name) {
            return Err(ServiceError::Conflict(format!("the username '{}' is reserved", r.username)));
        }
        let _in_flight = self.in_flight(ip)?;
        let now = self.clock.instant();
        self.limits.register_ip.acquire(LimitKey::of(&["register", ip]), now).map_err(limited)?;
        let key = user::username_key(&r.username);
        let skeleton = user::username_skeleton(&r.username);
        if let Some(existing) = self.store.user_by_username_skeleton(&key, &skeleton).await? {
            let taken = if user::username_key(&existing.username) == key {
                format!("the username '{}' is taken", r.username)
            } else {
                format!("the username '{}' is too close to the existing '{}'", r.username, existing.username)
            };
            return Err(ServiceError::Conflict(taken));
        }
        let password = r.password;
        let hash = blocking(move || password::hash(&password)).await?.map_err(|_| ServiceError::Internal)?;
        let id = match self
            .store
            .insert_user(&NewUser {
                username: &r.username,
                username_key: &key,
                username_skeleton: &skeleton,
                email: &r.email,
                password_hash: &hash,
                created_at: self.now_ms(),
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
        self.queue_verification(user.id).await?;
        self.open_session(user).await
    }

    /// Checks a password and opens a new session. Every login gets a fresh
    /// session id, so a session id planted before login is worthless after it.
    ///
    /// The attempt is counted against the limits before the password is
    /// checked and refunded if it was right, so concurrent guesses cannot
    /// all slip past the limit while the first are being verified.
    pub async fn login(&self, c: Credentials, ip: &str) -> ServiceResult<NewSession> {
        let result = self.try_login(c, ip).await;
        crate::telemetry::count(
            "tachi_logins_total",
            match &result {
                Ok(_) => "ok",
                Err(ServiceError::Unauthenticated(_)) => "wrong_credentials",
                Err(ServiceError::Forbidden(_)) => "banned",
                Err(ServiceError::RateLimited { .. }) => "rate_limited",
                Err(_) => "error",
            },
        );
        result
    }

    async fn try_login(&self, c: Credentials, ip: &str) -> ServiceResult<NewSession> {
        let _in_flight = self.in_flight(ip)?;
        // A name no account can have is not looked up (it may not even be
        // storable, e.g. with a NUL), nor counted per account; the password
        // is still hashed below, so the answer takes as long.
        let key = user::check_username(&c.username).is_ok().then(|| user::username_key(&c.username));
        let attempt = LoginAttempt::begin(&self.limits, key.as_deref(), ip, self.clock.instant())?;
        let found = match &key {
            Some(key) => self.store.user_by_username_key(key).await?,
            None => None,
        };
        let stored = found.as_ref().map(|u| u.password_hash.clone());
        let password = c.password;
        let (ok, upgraded) = blocking(move || password::verify_and_upgrade(&password, stored.as_deref())).await?;
        if let Some(u) = found.as_ref().filter(|_| !ok) {
            self.record(Some(u.id), "sign-in failed", actor::SOMEONE, None, None).await;
        }
        let user = match found {
            Some(u) if ok => u,
            _ => {
                attempt.failed();
                return Err(ServiceError::Unauthenticated("wrong username or password".into()));
            }
        };
        attempt.succeeded();
        if user.is_banned {
            return Err(ServiceError::Forbidden("this account is banned".into()));
        }
        if let Some(hash) = upgraded {
            // A bcrypt hash imported from Tachi: replaced now that the password is known.
            self.store.upgrade_password_hash(user.id, &user.password_hash, &hash).await?;
        }
        self.record(Some(user.id), "sign-in", actor::USER, None, None).await;
        self.open_session(user).await
    }

    /// One of the few logins or registrations an address may have running
    /// at once, held until dropped: a flood from one address queues no
    /// further than this ahead of everyone else.
    pub(super) fn in_flight(&self, ip: &str) -> ServiceResult<InFlight<'_>> {
        let key = LimitKey::of(&["in flight", ip]);
        let now = self.clock.instant();
        self.limits.in_flight.acquire(key, now).map_err(|_| ServiceError::RateLimited { retry_after_secs: 1 })?;
        Ok(InFlight { counter: &self.limits.in_flight, key, at: now })
    }

    /// Opens a session for `user` (after a login, a registration or a reset).
    pub async fn open_session(&self, user: User) -> ServiceResult<NewSession> {
        let cookie = PlainSecret::generate(SecretKind::Session);
        let now = self.now_ms();
        let expires = now + self.settings.session_lifetime.as_millis() as i64;
        self.store.insert_session(&cookie.hash(), user.id, now, expires, self.settings.sessions_per_user).await?;
        Ok(NewSession { user, cookie })
    }

    /// Ends the caller's session. Without one (a guest, or an API key alone)
    /// there is nothing to end: a conflict, as the original server answers.
    pub async fn logout(&self, caller: &Caller) -> ServiceResult<()> {
        let Ok((user, session)) = caller.session_user() else {
            return Err(ServiceError::Conflict("You are not logged in.".into()));
        };
        self.store.delete_session(session).await?;
        self.record(Some(user.id), "sign-out", actor::USER, None, None).await;
        Ok(())
    }

    /// The user a route's `:userID` names: an id, a username in any case, or
    /// `me` (the caller, by session or key). The one place every
    /// `/users/:userID/...` route resolves its user.
    pub async fn resolve_user(&self, caller: &Caller, raw: &str) -> ServiceResult<User> {
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

    pub async fn profile(&self, user_id: i64) -> ServiceResult<User> {
        self.store
            .user_by_id(user_id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no user has the id {user_id}")))
    }

    pub async fn update_profile(&self, caller: &Caller, user_id: i64, ch: ProfileChanges) -> ServiceResult<User> {
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

/// A login attempt counted against the limits. Unless it is marked failed,
/// it is refunded when dropped (the password was right, or the attempt never
/// got as far as checking it).
pub(super) struct LoginAttempt<'a> {
    limits: &'a Limits,
    now: Instant,
    ip: LimitKey,
    /// The (account, address) and account keys, for a name an account can have.
    account: Option<(LimitKey, LimitKey)>,
    failed: bool,
}

impl<'a> LoginAttempt<'a> {
    /// Counts the attempt, or refuses it:
    /// - an address gets `login_failures_per_ip` failures in all;
    /// - an address gets `login_failures_per_account` failures per account;
    /// - once an account has that many failures from everywhere, an address
    ///   that has failed for it even once is refused, but one that has not
    ///   still gets its try: many addresses cannot lock the owner out.
    pub(super) fn begin(limits: &'a Limits, account: Option<&str>, ip: &str, now: Instant) -> ServiceResult<Self> {
        let ip_key = LimitKey::of(&["login", ip]);
        limits.login_ip.acquire(ip_key, now).map_err(limited)?;
        let mut attempt = LoginAttempt { limits, now, ip: ip_key, account: None, failed: false };
        if let Some(account) = account {
            let pair = LimitKey::of(&["login", account, ip]);
            let whole = LimitKey::of(&["login account", account]);
            let earlier = limits.login_pair.acquire(pair, now).map_err(limited)?;
            if earlier > 0
                && let Err(secs) = limits.login_account.blocked(whole, now)
            {
                limits.login_pair.refund(pair, now);
                return Err(limited(secs));
            }
            limits.login_account.record(whole, now);
            attempt.account = Some((pair, whole));
        }
        Ok(attempt)
    }

    /// The password was wrong: the attempt stays counted.
    pub(super) fn failed(mut self) {
        self.failed = true;
    }

    /// The password was right: this address's failures for the account are forgotten.
    pub(super) fn succeeded(self) {
        if let Some((pair, _)) = self.account {
            self.limits.login_pair.clear(pair);
        }
    }
}

impl Drop for LoginAttempt<'_> {
    fn drop(&mut self) {
        if self.failed {
            return;
        }
        self.limits.login_ip.refund(self.ip, self.now);
        if let Some((pair, whole)) = self.account {
            self.limits.login_pair.refund(pair, self.now);
            self.limits.login_account.refund(whole, self.now);
        }
    }
}

/// A slot of `Limits::in_flight`, given back when dropped.
pub(super) struct InFlight<'a> {
    counter: &'a Counter,
    key: LimitKey,
    /// When the slot was taken (a slot has no window: any time would do).
    at: Instant,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.counter.refund(self.key, self.at);
    }
}
