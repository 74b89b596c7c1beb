//! Use cases: what a caller may do and what happens when they do it. Each
//! public function is one action of the spec, called by one HTTP handler (or
//! page) and translating storage results into domain outcomes.

pub mod accounts;
pub mod audit;
pub mod auth;
pub mod clients;
pub mod device;
pub mod keys;
pub mod limits;
pub mod oauth;
pub mod recovery;
pub mod token_admin;
pub mod webhooks;

#[cfg(test)]
mod tests;

use std::time::Duration;

use crate::domain::Invalid;
use crate::storage::{Store, StoreError};

pub use auth::{Caller, Via};

/// Runs `work` (a handler and the use cases it calls) as work its caller
/// may drop halfway, such as a GET whose client hung up: such a use case
/// must begin no transaction, which debug builds check (see
/// `storage::droppable`).
pub async fn droppable<F: std::future::Future>(work: F) -> F::Output {
    crate::storage::droppable(work).await
}

/// Settings the use cases depend on (the rest of the configuration is the
/// HTTP layer's).
#[derive(Debug, Clone)]
pub struct Settings {
    pub site_name: String,
    pub code_lifetime: Duration,
    /// How long a device authorization (RFC 8628) waits for the player.
    pub device_code_lifetime: Duration,
    /// How many clients a non-admin user may own.
    pub client_cap: i64,
    pub session_lifetime: Duration,
    /// Sessions a user may have at once; a new login ends the oldest beyond it.
    pub sessions_per_user: i64,
    /// Personal keys (made by hand, not by a client) a user may hold.
    pub personal_key_cap: i64,
    pub limits: limits::LimitSettings,
    pub accounts: AccountSettings,
    pub webhooks: WebhookSettings,
}

/// Events to clients' webhooks (see `webhooks`).
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Deliveries may go to loopback, link-local and private addresses.
    pub allow_private: bool,
    /// The most one delivery may take.
    pub timeout: Duration,
    /// How long an event is retried before it is given up.
    pub retry_horizon: Duration,
    /// The first wait after a failure; it doubles with each.
    pub retry_base: Duration,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private: false,
            timeout: Duration::from_secs(5),
            retry_horizon: Duration::from_secs(24 * 3600),
            retry_base: Duration::from_secs(5),
        }
    }
}

/// Account recovery and verification (see `recovery`).
#[derive(Debug, Clone)]
pub struct AccountSettings {
    pub reset_code_lifetime: Duration,
    pub verify_code_lifetime: Duration,
    /// Users with an unverified e-mail address may not create API clients.
    pub require_verified_email: bool,
    /// The first wait before a failed mail is tried again; it doubles each time.
    pub mail_retry_base: Duration,
    /// How long the security log keeps an event.
    pub security_log_retention: Duration,
}

impl Default for AccountSettings {
    fn default() -> Self {
        AccountSettings {
            reset_code_lifetime: Duration::from_secs(3600),
            verify_code_lifetime: Duration::from_secs(7 * 24 * 3600),
            require_verified_email: false,
            mail_retry_base: Duration::from_secs(1),
            security_log_retention: Duration::from_secs(180 * 86_400),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            site_name: "Tachi".into(),
            code_lifetime: Duration::from_secs(30 * 60),
            device_code_lifetime: Duration::from_secs(10 * 60),
            client_cap: 10,
            session_lifetime: Duration::from_secs(30 * 24 * 3600),
            sessions_per_user: 50,
            personal_key_cap: 100,
            limits: limits::LimitSettings::default(),
            accounts: AccountSettings::default(),
            webhooks: WebhookSettings::default(),
        }
    }
}

/// The application: storage, settings and in-memory limiters.
pub struct Service {
    pub store: Store,
    pub settings: Settings,
    pub limits: limits::Limits,
    pub started_at: i64,
    /// Where "now" comes from: the store's clock (a test's manual one).
    pub clock: crate::domain::Clock,
    /// Where mail goes; `None` without `--smtp-url` (resets need the operator).
    pub mailer: Option<crate::mail::Mailer>,
    /// Wakes the mail worker when a mail is queued.
    pub mail_queued: tokio::sync::Notify,
    /// Sends webhook deliveries, behind the SSRF guard.
    pub webhook_sender: crate::webhook::Sender,
}

impl Service {
    pub fn new(store: Store, settings: Settings) -> Self {
        let limits = limits::Limits::new(&settings.limits);
        let clock = store.clock().clone();
        let webhook_sender = crate::webhook::Sender::new(settings.webhooks.allow_private, settings.webhooks.timeout);
        Service {
            webhook_sender,
            store,
            settings,
            limits,
            started_at: clock.now_ms(),
            clock,
            mailer: None,
            mail_queued: tokio::sync::Notify::new(),
        }
    }

    /// The same, sending mail through `mailer`.
    pub fn with_mailer(mut self, mailer: Option<crate::mail::Mailer>) -> Self {
        self.mailer = mailer;
        self
    }

    /// Milliseconds since the Unix epoch, by the service's clock.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    fn code_lifetime_ms(&self) -> i64 {
        self.settings.code_lifetime.as_millis() as i64
    }
}

/// Why a use case did not happen. Each variant is one answer class; the HTTP
/// layer maps them to status codes in one place per surface (JSON, pages).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthenticated(String),
    /// A bearer token that is unknown or revoked (RFC 6750 `invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    #[error("{0}")]
    Forbidden(String),
    /// A bearer token without the permission needed (RFC 6750 `insufficient_scope`).
    #[error("this API key lacks the {0} permission")]
    InsufficientScope(crate::domain::Permission),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    RateLimited { retry_after_secs: u64 },
    #[error("the database is unavailable right now; try again shortly")]
    Unavailable,
    /// Too much work is waiting (password hashing): try again in a moment.
    #[error("the server is busy; try again in a few seconds")]
    Busy,
    /// A feature this server is not configured for (mail without `--smtp-url`).
    #[error("{0}")]
    Unsupported(String),
    #[error("internal error")]
    Internal,
}

impl ServiceError {
    /// When to try again, for the answers that say "not now".
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ServiceError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            ServiceError::Unavailable => Some(1),
            ServiceError::Busy => Some(2),
            _ => None,
        }
    }
}

impl From<Invalid> for ServiceError {
    fn from(e: Invalid) -> Self {
        ServiceError::Invalid(e.0)
    }
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(err) => {
                tracing::warn!(error = %err, "database unavailable");
                ServiceError::Unavailable
            }
            StoreError::Conflict => ServiceError::Conflict("that conflicts with an existing record".into()),
            StoreError::Other(err) => {
                tracing::error!(error = %err, "database error");
                ServiceError::Internal
            }
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

/// Runs CPU-heavy work (Argon2) off the async workers, at most one job per
/// core at a time: each Argon2 hash holds 12 MiB, so unbounded concurrent
/// logins would grow memory without limit (and gain no throughput).
///
/// The queue is bounded too: past it the caller is told the server is busy
/// (503, Retry-After), instead of every later login (the real user's among
/// them) queueing behind a flood. With each address allowed a few logins in
/// flight (`limits`), only a flood from many addresses reaches the bound.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static SLOTS: std::sync::LazyLock<(std::sync::Arc<tokio::sync::Semaphore>, usize)> =
        std::sync::LazyLock::new(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            (std::sync::Arc::new(tokio::sync::Semaphore::new(cores)), cores)
        });
    static WAITING: AtomicUsize = AtomicUsize::new(0);
    /// Past this many hashes waiting per core, new ones are refused.
    const WAITING_PER_CORE: usize = 64;

    let (slots, cores) = &*SLOTS;
    let waiting = WAITING.fetch_add(1, Ordering::AcqRel);
    let permit = if waiting >= WAITING_PER_CORE * cores { None } else { slots.clone().acquire_owned().await.ok() };
    WAITING.fetch_sub(1, Ordering::AcqRel);
    let permit = permit.ok_or(ServiceError::Busy)?;
    // The permit moves into the job: it is held until the hash is done, even
    // if the request that asked for it is dropped meanwhile.
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        f()
    })
    .await
    .map_err(|_| ServiceError::Internal)
}

/// Deserializes a field that may be absent, null or a value into
/// `Option<Option<T>>`: absent → `None` (leave alone), null → `Some(None)` (clear).
pub fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Option::<T>::deserialize(d).map(Some)
}
