//! Storage: every SQL statement of tachi-auth lives below this module.
//!
//! One `Store` speaks to SQLite (the default, embedded) or PostgreSQL (several
//! instances sharing one database). Each query is written once, in SQL both
//! engines accept (`$n` placeholders, `RETURNING`, `ON CONFLICT`), and run on
//! the native driver of whichever pool is configured: native drivers keep the
//! bearer-validation hot path free of the `Any` driver's conversions.
//! The schema is in `migrations/<engine>/`, one twin file per engine.

mod api_keys;
mod clients;
mod codes;
mod group_commit;
mod key_cache;
mod records;
mod sessions;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

pub use codes::{RedeemDecision, Redemption};
pub use key_cache::SQLITE_POLL as REVOCATION_POLL_SQLITE;
pub use records::*;

/// Runs `$body` with `$pool` bound to the configured engine's pool. The body is
/// compiled once per engine, so the same SQL text is type-checked against both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::storage::Pool::Sqlite($pool) => $body,
            $crate::storage::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

#[derive(Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// SQLite has one writer at a time; a second writer that finds the lock
    /// taken sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms, …). Hot write
    /// transactions queue here instead, in order and without sleeping.
    /// `None` on PostgreSQL, whose row locks need no help.
    sqlite_writer: Option<Arc<tokio::sync::Mutex<()>>>,
    /// Validated bearer keys; see `key_cache` for how revocation reaches it.
    keys: Arc<key_cache::KeyCache>,
    /// The writer task that group-commits token exchanges (`None` in the
    /// writer's own copy of the store, which settles them directly).
    redeemer: Option<tokio::sync::mpsc::Sender<group_commit::Job>>,
}

/// How the pool is sized and how long a request may wait for a connection
/// before it is answered 503 (rather than hanging while the database is down).
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings { max_connections: 10, acquire_timeout: Duration::from_secs(3) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint refused the write (e.g. a taken username).
    #[error("conflicting record")]
    Conflict,
    /// The database cannot be reached or is saturated; worth retrying later.
    #[error("database unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("database error: {0}")]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            // SQLITE_BUSY / SQLITE_LOCKED: another writer held the lock past busy_timeout.
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("5" | "6")) => StoreError::Unavailable(e),
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::Protocol(_) => StoreError::Unavailable(e),
            // PostgreSQL shutting down or refusing connections (class 57/08).
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("57") || c.starts_with("08")) => {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Other(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Store, sqlx::Error> {
        let mut sqlite_opts = None;
        let pool = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .test_before_acquire(false)
                .connect_with(opts)
                .await?;
            sqlx::migrate!("migrations/postgres").run(&pool).await?;
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .foreign_keys(true)
                // WAL + NORMAL: a commit is in the OS's hands when it returns, so
                // it survives the process being killed (kill -9); only a power
                // loss can take the last commits. See the README's "Durability".
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            let pool = SqlitePoolOptions::new()
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .test_before_acquire(false)
                .connect_with(opts.clone())
                .await?;
            sqlx::migrate!("migrations/sqlite").run(&pool).await?;
            sqlite_opts = Some(opts);
            Pool::Sqlite(pool)
        } else {
            return Err(sqlx::Error::Configuration("database URL must start with sqlite: or postgres:".into()));
        };
        let sqlite_writer = matches!(pool, Pool::Sqlite(_)).then(|| Arc::new(tokio::sync::Mutex::new(())));
        let keys = Arc::new(key_cache::KeyCache::default());
        match &pool {
            Pool::Sqlite(p) => key_cache::watch_sqlite(sqlite_opts.unwrap_or_default(), p.clone(), keys.clone()),
            Pool::Postgres(p) => key_cache::watch_postgres(p.clone(), keys.clone()),
        }
        let mut store = Store { pool, sqlite_writer, keys, redeemer: None };
        store.redeemer = Some(group_commit::start(store.clone()));
        Ok(store)
    }

    /// Taken (on SQLite) before a write transaction begins, never while a
    /// connection is held, so it cannot deadlock with the pool.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.sqlite_writer {
            Some(m) => Some(m.lock().await),
            None => None,
        }
    }

    /// To be called after a committed write that may have revoked or changed
    /// a key (the database triggers cover other processes, not our own cache
    /// before the next notification or poll).
    pub(super) fn keys_changed(&self) {
        self.keys.flush();
    }

    /// Readiness: can a connection answer a trivial query right now?
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()).map_err(StoreError::from))
    }

    /// Removes rows whose time is over: expired sessions, codes, pending requests.
    pub async fn delete_expired(
        &self,
        now: i64,
        pending_older_than: i64,
        used_codes_older_than: i64,
    ) -> StoreResult<()> {
        on_pool!(self, p => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(p).await?;
            sqlx::query("DELETE FROM auth_requests WHERE created_at <= $1").bind(pending_older_than).execute(p).await?;
            // Used codes are kept a while after use so a replay can be recognised
            // (and the key it issued revoked); then they go like expired ones.
            sqlx::query("DELETE FROM auth_codes WHERE expires_at <= $1 AND (used_at IS NULL OR used_at <= $2)")
                .bind(now)
                .bind(used_codes_older_than)
                .execute(p)
                .await?;
            Ok(())
        })
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}
