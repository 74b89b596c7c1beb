//! Storage: every SQL statement of tachi-auth lives below this module.
//!
//! One `Store` speaks to SQLite (the default, embedded) or PostgreSQL (several
//! instances sharing one database). Each query is written once, in SQL both
//! engines accept (`$n` placeholders, `RETURNING`, `ON CONFLICT`), and run on
//! the native driver of whichever pool is configured: native drivers keep the
//! bearer-validation hot path free of the `Any` driver's conversions.
//! The schema is in `migrations/<engine>/`, one twin file per engine.

mod api_keys;
pub mod backup;
mod cache;
mod checkpoint;
mod clients;
mod codes;
mod device_codes;
mod group_commit;
mod import;
pub mod open;
mod records;
mod recovery;
mod security_log;
mod sessions;
mod users;
mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection as _};

use crate::domain::Clock;

pub use codes::{Redemption, RedemptionAttempt};
pub use device_codes::{DeviceCodeRecord, NewDeviceCode};
pub use import::{BATCH as IMPORT_BATCH, ImportedKey, ImportedLogin, ImportedUser, Importer};
pub use recovery::{CodePurpose, QueuedMail};
pub use webhooks::{AttemptOutcome, ClaimedDelivery};

/// Runs `$body` with `$pool` bound to the configured engine's pool. The body is
/// compiled once per engine, so the same SQL text is type-checked against both.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.pool {
            $crate::storage::Pool::Sqlite($pool, _) => $body,
            $crate::storage::Pool::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

tokio::task_local! {
    /// Set around work whose caller may drop it at any `.await` (see [`droppable`]).
    static DROPPABLE: ();
}

/// Runs `work`, declaring that its caller may drop it halfway (an HTTP
/// request whose client hung up, see `http::finish`). Such work must begin
/// no transaction: one dropped between its calls would leave the SQLite
/// writer, or a pooled PostgreSQL connection, inside it, and the next
/// writer's statements with it. Single statements and batched writes (whose
/// own task finishes them) are safe. Debug builds, and so every test of the
/// suite, check this wherever the storage layer begins a transaction.
pub async fn droppable<F: std::future::Future>(work: F) -> F::Output {
    DROPPABLE.scope((), work).await
}

/// The check of [`droppable`]: a bug, hence a debug assertion.
fn assert_not_droppable() {
    debug_assert!(
        DROPPABLE.try_with(|_| ()).is_err(),
        "a transaction begun by work its caller may drop halfway (see `storage::droppable`)"
    );
}

/// Begins a transaction on a connection of `on_writer!` (checked as [`droppable`] says).
fn begin<C: sqlx::Connection>(
    db: &mut C,
) -> futures_util::future::BoxFuture<'_, sqlx::Result<sqlx::Transaction<'_, C::Database>>> {
    assert_not_droppable();
    db.begin()
}

/// Runs `$body` with `$conn` bound to the connection writes go through: on
/// SQLite the one writer connection (waiting for its turn), on PostgreSQL any
/// connection of the pool. A transaction is begun on it with `begin($conn)`.
/// Every INSERT, UPDATE and DELETE of the storage layer runs in one.
macro_rules! on_writer {
    ($store:expr, $conn:ident => $body:expr) => {{
        #[allow(unused_imports)]
        use sqlx::Connection as _;
        match &$store.pool {
            $crate::storage::Pool::Sqlite(_, writer) => {
                let mut guard = writer.lock().await;
                let $conn: &mut sqlx::SqliteConnection = &mut *guard;
                $body
            }
            $crate::storage::Pool::Postgres(p) => {
                let mut pooled = p.acquire().await?;
                let $conn: &mut sqlx::PgConnection = &mut *pooled;
                $body
            }
        }
    }};
}
pub(crate) use on_writer;

/// Runs `$body` as one write transaction on the writer (see `on_writer!`), in
/// as few calls as each engine allows. SQLite runs the statements of one call
/// in order on its connection's thread, so there the body's own SQL opens the
/// transaction (`BEGIN IMMEDIATE; …` in its first call) and ends it (`…;
/// COMMIT` in its last): two hand-offs to that thread instead of four, and
/// hand-offs are most of what a short transaction costs. PostgreSQL takes
/// one statement per call; there `$conn` is a transaction begun here and
/// committed after the body. On both, an outcome for which `$committed` is
/// false (a statement failed, or the body stopped before its last call)
/// leaves nothing behind.
macro_rules! write_transaction {
    ($store:expr, committed: $committed:expr, $conn:ident => $body:expr) => {{
        #[allow(unused_imports)]
        use sqlx::Connection as _;
        $crate::storage::assert_not_droppable();
        match &$store.pool {
            $crate::storage::Pool::Sqlite(_, writer) => {
                let mut guard = writer.lock().await;
                let $conn: &mut sqlx::SqliteConnection = &mut *guard;
                let outcome = async { $body }.await;
                if !($committed)(&outcome) {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *guard).await;
                }
                outcome
            }
            $crate::storage::Pool::Postgres(p) => {
                let mut pooled = p.acquire().await?;
                let mut tx = pooled.begin().await?;
                let $conn: &mut sqlx::PgConnection = &mut *tx;
                let outcome = async { $body }.await;
                if ($committed)(&outcome) {
                    tx.commit().await?;
                }
                outcome
            }
        }
    }};
}
pub(crate) use write_transaction;

#[derive(Clone)]
pub(crate) enum Pool {
    /// The pool (reads) and the one connection every write goes through.
    ///
    /// SQLite has one writer at a time; a second writer that finds the lock
    /// taken sleeps in SQLite's busy handler (1 ms, 2 ms, 5 ms, …). Every
    /// write of this process (see `on_writer!`) takes its turn on this one
    /// connection instead, in order and without sleeping. Being the only
    /// connection that writes, it also keeps its page cache: a connection's
    /// cache is dropped whenever another connection has written, and a token
    /// exchange on a pooled connection reread the pages it was about to change.
    Sqlite(SqlitePool, SqliteWriter),
    /// PostgreSQL's row locks need no such help: writes use the pool.
    Postgres(PgPool),
}

pub(crate) type SqliteWriter = Arc<tokio::sync::Mutex<sqlx::SqliteConnection>>;

#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool,
    /// Validated bearer keys and clients; see `cache` for how revocation reaches it.
    cache: Arc<cache::Cache>,
    /// The writer task that group-commits token exchanges (`None` in the
    /// writer's own copy of the store, which settles them directly).
    redeemer: Option<group_commit::Tasks<group_commit::Exchange>>,
    /// The same for create-code's approvals, and for the consent page's
    /// pending requests.
    approver: Option<group_commit::Tasks<group_commit::Approval>>,
    recorder: Option<group_commit::Tasks<group_commit::PendingWrite>>,
    /// Keys' "last used" times waiting to be written (see `touch_key`).
    touches: Option<tokio::sync::mpsc::Sender<(String, i64)>>,
    /// What was opened, for the start line: see [`Store::opened`].
    opened: Arc<Opened>,
    /// The time the cache ages its entries by, and the service judges by.
    clock: Clock,
    /// Signalled when a commit queued webhook events (see `webhooks`).
    outbox: Arc<tokio::sync::Notify>,
}

/// The database a store opened, and its schema.
#[derive(Debug, Clone, Default)]
pub struct Opened {
    /// The SQLite file's path, or the PostgreSQL server and database (no password).
    pub database: String,
    /// Migrations recorded in the database, and how many of them this start applied.
    pub migrations: usize,
    pub migrations_applied_now: usize,
    /// The newest migration's version and description.
    pub schema_version: Option<(i64, String)>,
}

/// How a generated statement names its parameters.
#[derive(Clone, Copy)]
enum Params {
    /// `$n`, numbered from the given first one: the text both engines accept.
    From(usize),
    /// `?`, bound in order of appearance (SQLite only). sqlx asks SQLite for
    /// the name of each parameter it binds, and SQLite finds a `$n` name by a
    /// linear search of the statement's names: quadratic in a batch's few
    /// hundred parameters.
    Anonymous,
}

impl Params {
    /// `$n` placeholders for PostgreSQL, `?` for SQLite.
    fn for_engine(pool: &Pool, first: usize) -> Params {
        match pool {
            Pool::Sqlite(..) => Params::Anonymous,
            Pool::Postgres(_) => Params::From(first),
        }
    }
}

/// Appends `count` groups of `width` placeholders: `$2, $3` (width 1) or
/// `($2, $3), ($4, $5)` (width 2), for statements that write many rows at once.
fn push_placeholders(sql: &mut String, params: Params, count: usize, width: usize) {
    use std::fmt::Write;
    let mut next = match params {
        Params::From(first) => first,
        Params::Anonymous => 0,
    };
    let mut one = |sql: &mut String| {
        match params {
            Params::From(_) => {
                let _ = write!(sql, "${next}");
            }
            Params::Anonymous => sql.push('?'),
        }
        next += 1;
    };
    for i in 0..count {
        if i > 0 {
            sql.push_str(", ");
        }
        if width == 1 {
            one(sql);
        } else {
            sql.push('(');
            for w in 0..width {
                if w > 0 {
                    sql.push_str(", ");
                }
                one(sql);
            }
            sql.push(')');
        }
    }
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
    /// Opens (creating a SQLite file if needed) and migrates the database:
    /// what the server does.
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Store, open::OpenError> {
        Store::open(url, settings, true, Clock::System).await
    }

    /// The same, with time read from `clock` (a test's manual clock).
    pub async fn connect_with_clock(
        url: &str,
        settings: &PoolSettings,
        clock: Clock,
    ) -> Result<Store, open::OpenError> {
        Store::open(url, settings, true, clock).await
    }

    /// The clock this store (and the service over it) reads the time from.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Opens an existing tachi-auth database, read-write, and neither
    /// creates nor migrates it: what operator commands do.
    pub async fn open_existing(url: &str, settings: &PoolSettings) -> Result<Store, open::OpenError> {
        Store::open(url, settings, false, Clock::System).await
    }

    async fn open(url: &str, settings: &PoolSettings, create: bool, clock: Clock) -> Result<Store, open::OpenError> {
        let config = |e: sqlx::Error| open::OpenError(format!("invalid database URL: {}", open::reason(&e)));
        let mut opened = Opened { database: open::describe(url), ..Opened::default() };
        let cache = Arc::new(cache::Cache::new(clock.clone()));
        let pool = if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url).map_err(config)?;
            let fail = |e: sqlx::Error| open::pg_error(&opts, url, &e);
            // One connection first: the pool retries a refused one until its
            // timeout and then says only "pool timed out".
            match tokio::time::timeout(settings.acquire_timeout, sqlx::PgConnection::connect_with(&opts)).await {
                Ok(Ok(conn)) => {
                    let _ = conn.close().await;
                }
                Ok(Err(e)) => return Err(fail(e)),
                Err(_) => return Err(fail(sqlx::Error::PoolTimedOut)),
            }
            let pool = PgPoolOptions::new()
                .acquire_time_level(acquire_events())
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .test_before_acquire(false)
                .connect_with(opts.clone())
                .await
                .map_err(fail)?;
            if create {
                migrate(&pool, sqlx::migrate!("migrations/postgres"), &mut opened).await.map_err(fail)?;
            } else {
                existing_schema(&pool, &mut opened)
                    .await
                    .map_err(|e| open::OpenError(format!("{}: {e}", opened.database)))?;
            }
            cache::watch_postgres(pool.clone(), cache.clone());
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url).map_err(config)?;
            let file = opts.get_filename().to_path_buf();
            if let Some(e) = open::sqlite_precheck(&file, create) {
                return Err(e);
            }
            let fail = |e: sqlx::Error| open::sqlite_error(&file, e);
            let opts = opts
                .create_if_missing(create)
                .foreign_keys(true)
                // WAL + NORMAL: a commit is in the OS's hands when it returns, so
                // it survives the process being killed (kill -9); only a power
                // loss can take the last commits. See the README's "Durability".
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            // Readers keep a small page cache (512 KiB; SQLite's default is
            // 2 MiB). SQLite empties a connection's cache whenever another
            // connection has written, and every write here is the writer's,
            // so under writes a reader's cache holds little for long; filled
            // by reads of many different keys, the pool's caches would be a
            // large part of a server meant to stay small.
            let pool = SqlitePoolOptions::new()
                .acquire_time_level(acquire_events())
                .max_connections(settings.max_connections)
                .acquire_timeout(settings.acquire_timeout)
                .test_before_acquire(false)
                .connect_with(opts.clone().pragma("cache_size", "-512"))
                .await
                .map_err(fail)?;
            if create {
                migrate(&pool, sqlx::migrate!("migrations/sqlite"), &mut opened).await.map_err(fail)?;
            } else {
                existing_schema(&pool, &mut opened)
                    .await
                    .map_err(|e| open::OpenError(format!("{}: {e}", opened.database)))?;
            }
            // The writer's cache holds the B-tree pages writes touch (the
            // last leaves of the time-ordered indexes, the inner pages of
            // the random ones): 8 MiB, beside the readers' 512 KiB each. Its
            // temporary objects stay in memory: a token-exchange batch's
            // statement journal and `UPDATE … FROM`/`RETURNING` tables
            // (a few hundred KB) would otherwise each be a file created,
            // written and deleted per batch.
            let writer = opts
                .clone()
                .pragma("cache_size", "-8192")
                .pragma("temp_store", "memory")
                .pragma("wal_autocheckpoint", checkpoint::BACKSTOP_PAGES)
                .connect()
                .await
                .map_err(fail)?;
            let writer: SqliteWriter = Arc::new(tokio::sync::Mutex::new(writer));
            checkpoint::start(opts.clone(), pool.clone(), writer.clone());
            cache::watch_sqlite(opts, pool.clone(), cache.clone());
            Pool::Sqlite(pool, writer)
        } else {
            return Err(open::OpenError("the database URL must start with sqlite: or postgres:".into()));
        };
        let opened = Arc::new(opened);
        let outbox = Arc::new(tokio::sync::Notify::new());
        let mut store =
            Store { pool, cache, redeemer: None, approver: None, recorder: None, touches: None, opened, clock, outbox };
        store.start_toucher();
        // A batch task's own copy has no batch senders: it settles its jobs
        // directly, and a sender it held would keep a task alive.
        store.redeemer = Some(group_commit::start(store.clone()));
        store.approver = Some(group_commit::start(Store { redeemer: None, ..store.clone() }));
        store.recorder = Some(group_commit::start(Store { redeemer: None, approver: None, ..store.clone() }));
        Ok(store)
    }

    /// To be called after a committed write that may have revoked or changed
    /// a key or a client (the database triggers cover other processes, not our
    /// own cache before the next notification or poll).
    pub(super) fn credentials_changed(&self) {
        self.cache.flush();
    }

    /// The pool's open and idle connections, and its cap (for metrics).
    pub fn pool_stats(&self) -> (u32, usize, u32) {
        on_pool!(self, p => (p.size(), p.num_idle(), p.options().get_max_connections()))
    }

    /// What was opened: the database and its schema.
    pub fn opened(&self) -> &Opened {
        &self.opened
    }

    /// Readiness: can a connection read the schema right now? (A bare
    /// `SELECT 1` answers even on a database without our tables.)
    pub async fn ping(&self) -> StoreResult<()> {
        on_pool!(self, p => sqlx::query("SELECT 1 FROM users LIMIT 1").execute(p).await.map(|_| ()).map_err(StoreError::from))
    }

    /// Removes rows whose time is over: expired sessions, codes, pending requests.
    pub async fn delete_expired(
        &self,
        now: i64,
        pending_older_than: i64,
        used_codes_older_than: i64,
    ) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now).execute(&mut *db).await?;
            sqlx::query("DELETE FROM auth_requests WHERE created_at <= $1").bind(pending_older_than).execute(&mut *db).await?;
            // Used codes are kept a while after use so a replay can be recognised
            // (and the key it issued revoked); then they go like expired ones.
            sqlx::query("DELETE FROM auth_codes WHERE expires_at <= $1 AND (used_at IS NULL OR used_at <= $2)")
                .bind(now)
                .bind(used_codes_older_than)
                .execute(&mut *db)
                .await?;
            Ok(())
        })
    }

    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// Whether sqlx reports each connection taken from the pool, and how long it
/// took: only when metrics are on (`telemetry::PoolAcquires` reads them).
fn acquire_events() -> log::LevelFilter {
    if crate::telemetry::metrics_on() { log::LevelFilter::Debug } else { log::LevelFilter::Off }
}

/// Runs the migrations, recording in `opened` how many there are and how
/// many this start applied.
async fn migrate<DB>(pool: &sqlx::Pool<DB>, migrator: sqlx::migrate::Migrator, opened: &mut Opened) -> sqlx::Result<()>
where
    DB: sqlx::Database,
    <DB as sqlx::Database>::Connection: sqlx::migrate::Migrate,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    String: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> &'r str: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
    usize: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
{
    let before = schema_version(pool).await.map(|(n, _)| n).unwrap_or(0);
    migrator.run(pool).await?;
    let (count, latest) = schema_version(pool).await?;
    opened.migrations = count;
    opened.migrations_applied_now = count.saturating_sub(before);
    opened.schema_version = latest;
    Ok(())
}

/// An operator command's check that the database is one of ours.
async fn existing_schema<DB>(pool: &sqlx::Pool<DB>, opened: &mut Opened) -> Result<(), String>
where
    DB: sqlx::Database,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    String: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> &'r str: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
    usize: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
{
    let (count, latest) = schema_version(pool).await.map_err(|_| {
        "not a tachi-auth database (it has no schema): start the server on it once to create one".to_owned()
    })?;
    opened.migrations = count;
    opened.schema_version = latest;
    Ok(())
}

/// How many migrations the database records, and the newest.
async fn schema_version<DB>(pool: &sqlx::Pool<DB>) -> sqlx::Result<(usize, Option<(i64, String)>)>
where
    DB: sqlx::Database,
    for<'c> &'c mut <DB as sqlx::Database>::Connection: sqlx::Executor<'c, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    i64: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    String: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'r> &'r str: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
    usize: sqlx::ColumnIndex<<DB as sqlx::Database>::Row>,
{
    use sqlx::Row;
    let rows = sqlx::query("SELECT version, description FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await?;
    let latest = match rows.last() {
        Some(r) => Some((r.try_get::<i64, _>(0)?, r.try_get::<String, _>(1)?)),
        None => None,
    };
    Ok((rows.len(), latest))
}

#[cfg(test)]
impl Store {
    /// A store on a fresh SQLite file in a temporary directory (deleted
    /// with the returned guard).
    pub(crate) async fn sqlite_for_tests() -> (tempfile::TempDir, Store) {
        Store::sqlite_for_tests_with(Clock::System).await
    }

    /// The same, on `clock`.
    pub(crate) async fn sqlite_for_tests_with(clock: Clock) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        (dir, Store::connect_with_clock(&url, &PoolSettings::default(), clock).await.unwrap())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::NewUser;

    /// What `droppable` forbids is caught where it happens, in every test
    /// (debug) build: a transaction begun by work its caller may drop.
    #[tokio::test]
    #[should_panic(expected = "may drop halfway")]
    async fn a_transaction_begun_by_droppable_work_is_a_bug() {
        let (_dir, store) = Store::sqlite_for_tests().await;
        let _ = droppable(store.delete_client("CI1")).await;
    }

    /// A single statement is fine there (the consent page's pending request
    /// is one, on a GET).
    #[tokio::test]
    async fn droppable_work_may_write_single_statements() {
        let (_dir, store) = Store::sqlite_for_tests().await;
        let user = NewUser {
            username: "p",
            username_key: "p",
            username_skeleton: "p",
            email: "p@example.com",
            password_hash: "x",
            created_at: 0,
        };
        let id = droppable(store.insert_user(&user)).await.unwrap();
        assert_eq!(store.username(id).await.unwrap().as_deref(), Some("p"));
    }
}
