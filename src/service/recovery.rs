//! Keeping an account: changing the password, resetting a forgotten one by
//! e-mail, verifying the e-mail address, and the mail queue behind both.
//!
//! Codes are made by the mail worker when it writes the mail, and only
//! their hash is stored: the queue names a user and what to send, so neither
//! the queue nor the codes table ever holds a usable code. A code is used up
//! by the one statement that finds it (`take_account_code`).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::domain::User;
use crate::domain::{PlainSecret, SecretKind, password, user};
use crate::storage::{CodePurpose, QueuedMail};

use super::accounts::LoginAttempt;
use super::audit::{REQUEST, RequestMeta, actor};
use super::limits::LimitKey;
use super::{Caller, Service, ServiceError, ServiceResult, blocking};

pub const NO_RESETS: &str = "This server does not support password resets.";
pub const NO_MAIL: &str = "This server does not send e-mail.";
pub const WRONG_OLD_PASSWORD: &str = "Old Password doesn't match what we have in our records.";
pub const INVALID_RESET_CODE: &str = "Invalid Reset Code.";
pub const VERIFY_FIRST: &str = "This server requires a verified e-mail address to create API clients: \
     open the link mailed to you, or send a new one from your dashboard.";
pub const INVALID_VERIFY_CODE: &str = "Invalid Verification Code.";

/// How long a claimed mail is left to its sender before another may try it.
const MAIL_LEASE_MS: i64 = 120_000;
/// Attempts before a mail is given up (about six hours with the default back-off).
const MAIL_MAX_ATTEMPTS: i64 = 20;
/// The longest wait between two attempts.
const MAIL_MAX_BACKOFF: Duration = Duration::from_secs(30 * 60);

/// No `Debug`: it holds passwords.
#[derive(Deserialize)]
pub struct PasswordChange {
    #[serde(rename = "!password")]
    pub password: String,
    #[serde(rename = "!oldPassword")]
    pub old_password: String,
}

/// No `Debug`: it holds a password and a code.
#[derive(Deserialize)]
pub struct PasswordReset {
    pub code: String,
    #[serde(rename = "!password")]
    pub password: String,
}

#[derive(Deserialize)]
pub struct ForgotPassword {
    pub email: String,
}

#[derive(Deserialize)]
pub struct VerifyEmail {
    pub code: String,
}

fn limited(retry_after_secs: u64) -> ServiceError {
    ServiceError::RateLimited { retry_after_secs }
}

/// A presented code as stored: its hash, or `None` for text no code of
/// ours can be (not looked up).
fn code_hash(code: &str) -> Option<crate::domain::SecretHash> {
    crate::domain::secret::is_well_formed_id(code).then(|| PlainSecret::from_presented(code).hash())
}

impl Service {
    /// Changes the caller's own password. Every other session of the user
    /// ends; this one and the user's API keys stay. Wrong old passwords are
    /// counted as failed logins are, so a stolen session cannot guess it.
    pub async fn change_password(
        &self,
        caller: &Caller,
        user_id: i64,
        change: PasswordChange,
        ip: &str,
    ) -> ServiceResult<()> {
        caller.session_self(user_id)?;
        let (_, session) = caller.session_user()?;
        user::check_password(&change.password)?;
        let record = self.profile(user_id).await?;
        let _in_flight = self.in_flight(ip)?;
        let key = user::username_key(&record.username);
        let attempt = LoginAttempt::begin(&self.limits, Some(&key), ip, self.clock.instant())?;
        let (old, stored) = (change.old_password, record.password_hash.clone());
        if !blocking(move || password::verify(&old, Some(&stored))).await? {
            attempt.failed();
            return Err(ServiceError::Unauthenticated(WRONG_OLD_PASSWORD.into()));
        }
        attempt.succeeded();
        let new = change.password;
        let hash = blocking(move || password::hash(&new)).await?.map_err(|_| ServiceError::Internal)?;
        self.store.set_password(user_id, &hash, Some(session)).await?;
        self.record(Some(user_id), "password changed", actor::USER, None, None).await;
        Ok(())
    }

    /// Queues a reset mail to every account with this address, if any. The
    /// answer is the same either way, and as quick: the accounts are looked
    /// up and the mail queued after it (on the queue, the mail is durable),
    /// so its time does not tell whether the address is anyone's.
    pub async fn forgot_password(self: &Arc<Self>, f: ForgotPassword, ip: &str) -> ServiceResult<()> {
        if self.mailer.is_none() {
            return Err(ServiceError::Unsupported(NO_RESETS.into()));
        }
        let email = f.email.trim().to_owned();
        user::check_email(&email)?;
        let now = self.clock.instant();
        self.limits.reset_ip.acquire(LimitKey::of(&["reset", ip]), now).map_err(limited)?;
        let lowered = email.to_lowercase();
        self.limits.reset_email.acquire(LimitKey::of(&["reset email", &lowered]), now).map_err(limited)?;
        let svc = self.clone();
        let meta = RequestMeta::current();
        tokio::spawn(REQUEST.scope(meta, async move {
            if let Err(e) = svc.queue_resets(&email).await {
                tracing::warn!(error = %e, "could not queue a password reset mail");
            }
        }));
        Ok(())
    }

    async fn queue_resets(&self, email: &str) -> ServiceResult<()> {
        let ids = self.store.users_by_email(email).await?;
        for &id in &ids {
            self.store.queue_mail(id, CodePurpose::Reset, self.now_ms()).await?;
            self.record(Some(id), "password reset requested", actor::SOMEONE, None, None).await;
        }
        if !ids.is_empty() {
            self.mail_queued.notify_one();
        }
        Ok(())
    }

    /// Sets a new password with a reset code; every session of the user
    /// ends. The user, for the page that logs them in.
    pub async fn reset_password(&self, r: PasswordReset) -> ServiceResult<User> {
        user::check_password(&r.password)?;
        let invalid = || ServiceError::NotFound(INVALID_RESET_CODE.into());
        let hash = code_hash(&r.code).ok_or_else(invalid)?;
        let user_id =
            self.store.take_account_code(&hash, CodePurpose::Reset, self.now_ms()).await?.ok_or_else(invalid)?;
        let new = r.password;
        let hash = blocking(move || password::hash(&new)).await?.map_err(|_| ServiceError::Internal)?;
        self.store.set_password(user_id, &hash, None).await?;
        self.record(Some(user_id), "password reset", actor::USER, None, None).await;
        // The mail reached them: their address works.
        self.store.set_email_verified(user_id).await?;
        self.profile(user_id).await
    }

    /// Marks the address of the code's user verified.
    pub async fn verify_email(&self, v: VerifyEmail) -> ServiceResult<User> {
        let invalid = || ServiceError::NotFound(INVALID_VERIFY_CODE.into());
        let hash = code_hash(&v.code).ok_or_else(invalid)?;
        let user_id =
            self.store.take_account_code(&hash, CodePurpose::Verify, self.now_ms()).await?.ok_or_else(invalid)?;
        self.store.set_email_verified(user_id).await?;
        self.record(Some(user_id), "e-mail verified", actor::USER, None, None).await;
        self.profile(user_id).await
    }

    /// Sends the caller a new verification mail, unless they are verified or
    /// have asked for too many: either way the answer is the same (Tachi's
    /// route answers 200 always), so a script that retries learns nothing
    /// and fills no mailbox.
    pub async fn resend_verify_email(&self, caller: &Caller) -> ServiceResult<()> {
        let Some(me) = &caller.user else {
            return Err(ServiceError::Unauthenticated("you must be logged in to do this".into()));
        };
        if self.mailer.is_none() {
            return Err(ServiceError::Unsupported(NO_MAIL.into()));
        }
        if self.store.email_verified(me.id).await? {
            return Ok(());
        }
        let key = LimitKey::of(&["verify mail", &me.id.to_string()]);
        if self.limits.verify_mail_user.acquire(key, self.clock.instant()).is_err() {
            tracing::debug!(user = me.id, "verification mail not resent: asked too often");
            return Ok(());
        }
        self.queue_verification(me.id).await
    }

    pub async fn email_verified(&self, user_id: i64) -> ServiceResult<bool> {
        Ok(self.store.email_verified(user_id).await?)
    }

    /// With mail configured, queues the verification mail of a user.
    pub(super) async fn queue_verification(&self, user_id: i64) -> ServiceResult<()> {
        if self.mailer.is_some() {
            self.store.queue_mail(user_id, CodePurpose::Verify, self.now_ms()).await?;
            self.mail_queued.notify_one();
        }
        Ok(())
    }

    /// Operator action: a fresh reset code for a user (replacing any other),
    /// to hand over by other means than mail.
    pub async fn operator_reset_code(&self, user_id: i64) -> ServiceResult<PlainSecret> {
        let code = PlainSecret::generate(SecretKind::AuthCode);
        let expires = self.now_ms() + self.settings.accounts.reset_code_lifetime.as_millis() as i64;
        self.store.replace_account_code(user_id, CodePurpose::Reset, &code.hash(), expires).await?;
        self.record(Some(user_id), "password reset link issued", actor::OPERATOR, None, None).await;
        Ok(code)
    }

    /// The mail worker: sends queued mail as it comes, retrying failures
    /// with exponential back-off. Runs until the server stops.
    pub async fn run_mail_queue(self: Arc<Self>) {
        if self.mailer.is_none() {
            return;
        }
        let poll = self.settings.accounts.mail_retry_base.clamp(Duration::from_millis(50), Duration::from_secs(1));
        loop {
            loop {
                let now = self.now_ms();
                match self.store.claim_mail(now, now + MAIL_LEASE_MS).await {
                    Ok(Some(mail)) => self.send_queued(mail).await,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read the mail queue");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = self.mail_queued.notified() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    async fn send_queued(&self, mail: QueuedMail) {
        let Some(mailer) = &self.mailer else { return };
        let (id, attempt) = (mail.id, mail.attempts);
        let outcome = async {
            let Some(purpose) = CodePurpose::parse(&mail.purpose) else { return Ok(None) };
            let Some(user) = self.store.user_by_id(mail.user_id).await? else { return Ok(None) };
            if purpose == CodePurpose::Verify && self.store.email_verified(user.id).await? {
                return Ok(None);
            }
            let lifetime = match purpose {
                CodePurpose::Reset => self.settings.accounts.reset_code_lifetime,
                CodePurpose::Verify => self.settings.accounts.verify_code_lifetime,
            };
            let code = PlainSecret::generate(SecretKind::AuthCode);
            let expires = self.now_ms() + lifetime.as_millis() as i64;
            self.store.replace_account_code(user.id, purpose, &code.hash(), expires).await?;
            let message = match purpose {
                CodePurpose::Reset => mailer.reset_mail(&user.username, code.expose(), lifetime),
                CodePurpose::Verify => mailer.verify_mail(&user.username, code.expose(), lifetime),
            };
            Ok::<_, crate::storage::StoreError>(Some((purpose, mailer.send(&user.email, message).await)))
        }
        .await;
        let done = match outcome {
            Ok(None) => true,
            Ok(Some((purpose, Ok(())))) => {
                tracing::info!(mail = id, purpose = purpose.as_str(), "mail sent");
                true
            }
            Ok(Some((purpose, Err(error)))) if attempt >= MAIL_MAX_ATTEMPTS => {
                tracing::error!(mail = id, purpose = purpose.as_str(), attempt, %error, "mail not sent; giving up");
                true
            }
            Ok(Some((purpose, Err(error)))) => {
                let wait = self.mail_backoff(attempt);
                tracing::warn!(
                    mail = id,
                    purpose = purpose.as_str(),
                    attempt,
                    retry_in_ms = wait.as_millis() as u64,
                    %error,
                    "mail not sent; will try again"
                );
                if let Err(e) = self.store.retry_mail(id, self.now_ms() + wait.as_millis() as i64).await {
                    tracing::warn!(error = %e, mail = id, "could not reschedule a mail");
                }
                false
            }
            Err(e) => {
                // The claim's lease brings it back later.
                tracing::warn!(error = %e, mail = id, "could not prepare a mail");
                false
            }
        };
        if done && let Err(e) = self.store.delete_mail(id).await {
            tracing::warn!(error = %e, mail = id, "could not remove a sent mail from the queue");
        }
    }

    /// The wait after the `attempt`th failure: the base, doubled each time.
    fn mail_backoff(&self, attempt: i64) -> Duration {
        let doublings = attempt.clamp(1, 30) as u32 - 1;
        self.settings.accounts.mail_retry_base.saturating_mul(1 << doublings.min(20)).min(MAIL_MAX_BACKOFF)
    }
}
