//! Use cases: what a caller may do and what happens when they do it. Each
//! public function is one action of the spec, called by one HTTP handler (or
//! page) and translating storage results into domain outcomes.

pub mod accounts;
pub mod auth;
pub mod clients;
pub mod keys;
pub mod limits;
pub mod oauth;
pub mod token_admin;

use std::time::Duration;

use crate::domain::Invalid;
use crate::storage::{Store, StoreError};

pub use auth::{Caller, Via};

/// Settings the use cases depend on (the rest of the configuration is the
/// HTTP layer's).
#[derive(Debug, Clone)]
pub struct Settings {
    pub site_name: String,
    pub code_lifetime: Duration,
    /// How many clients a non-admin user may own.
    pub client_cap: i64,
    pub session_lifetime: Duration,
    pub limits: limits::LimitSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            site_name: "Tachi".into(),
            code_lifetime: Duration::from_secs(30 * 60),
            client_cap: 10,
            session_lifetime: Duration::from_secs(30 * 24 * 3600),
            limits: limits::LimitSettings::default(),
        }
    }
}

/// The application: storage, settings and in-memory limiters.
pub struct Service {
    pub store: Store,
    pub settings: Settings,
    pub limits: limits::Limits,
    pub started_at: i64,
}

impl Service {
    pub fn new(store: Store, settings: Settings) -> Self {
        let limits = limits::Limits::new(&settings.limits);
        Service { store, settings, limits, started_at: crate::domain::now_ms() }
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
    #[error("internal error")]
    Internal,
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
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> ServiceResult<T> {
    static SLOTS: std::sync::LazyLock<std::sync::Arc<tokio::sync::Semaphore>> = std::sync::LazyLock::new(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        std::sync::Arc::new(tokio::sync::Semaphore::new(cores))
    });
    let permit = SLOTS.clone().acquire_owned().await.map_err(|_| ServiceError::Internal)?;
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
