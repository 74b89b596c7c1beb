//! The credential cache: what lets an API request (a bearer key), a page or
//! form (a session cookie) or a token exchange (a client's id and secret) be
//! checked without a database round trip, without letting a revoked key, an
//! ended session or a deleted or re-keyed client through.
//!
//! Every change that can make a cached entry wrong (a key deleted or altered,
//! a session ended, their owner banned, demoted or renamed, a client altered
//! or deleted) is seen by the database itself, in triggers
//! (`migrations/*/0002_key_revocations.sql`, `0003_*`, `0007_*`, and
//! `0014_credential_changes.sql`, which names them for what they carry),
//! whoever makes it. The cache is flushed:
//! - at once, by this process, after each of its own such writes commit;
//! - on PostgreSQL, when the trigger's `NOTIFY` arrives from another instance
//!   or process; while the listening connection is down the cache is bypassed
//!   (and emptied), so a missed notification cannot leave a stale entry;
//! - on SQLite, when the trigger-maintained counter has moved: another process
//!   on the same file (`tachi-auth user --banned`) is seen within
//!   [`SQLITE_POLL`]. Writes through this server never wait for that.
//!
//! A lookup that raced with a flush does not fill the cache: entries are
//! only inserted under the generation that was current before the read.
//! Only found records are cached (a new key or client needs no flush), never misses.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};
use sqlx::{ConnectOptions, Connection};

use crate::domain::{BearerKey, Client, Clock, SecretHash, Session};

/// How long an entry is trusted without hearing from the database at all: a
/// backstop for a listening connection that is cut without the TCP
/// connection noticing. Revocations normally arrive in milliseconds.
const MAX_AGE: Duration = Duration::from_secs(5);
/// Bounds memory; a full table starts over (it refills from hot entries).
const MAX_ENTRIES: usize = 10_000;
/// How often a SQLite server checks for other processes' revocations.
pub const SQLITE_POLL: Duration = Duration::from_millis(100);
const CHANNEL: &str = "tachi_auth_credential_changes";

/// One table of the cache.
struct Table<K, V>(RwLock<HashMap<K, (V, Instant)>>);

impl<K, V> Default for Table<K, V> {
    fn default() -> Self {
        Table(RwLock::new(HashMap::new()))
    }
}

impl<K: Hash + Eq, V: Clone> Table<K, V> {
    fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q, now: Instant) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
    {
        let entries = self.0.read().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((value, at)) if now.saturating_duration_since(*at) < MAX_AGE => Some(value.clone()),
            _ => None,
        }
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<K, (V, Instant)>> {
        self.0.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
pub(crate) struct Cache {
    /// What entries are aged by.
    clock: Clock,
    /// Off until the revocation watcher is known to be watching.
    enabled: AtomicBool,
    generation: AtomicU64,
    keys: Table<SecretHash, BearerKey>,
    sessions: Table<SecretHash, Session>,
    clients: Table<String, Client>,
    /// Users' names by id (a client's author, on the consent page).
    usernames: Table<i64, String>,
}

impl Cache {
    pub fn new(clock: Clock) -> Cache {
        Cache { clock, ..Cache::default() }
    }

    pub fn key(&self, token: &SecretHash) -> Option<BearerKey> {
        self.get(&self.keys, token)
    }

    /// A cached session, if it has not expired meanwhile.
    pub fn session(&self, id: &SecretHash, now: i64) -> Option<Session> {
        self.get(&self.sessions, id).filter(|s| s.expires_at > now)
    }

    pub fn client(&self, client_id: &str) -> Option<Client> {
        self.get(&self.clients, client_id)
    }

    pub fn username(&self, user_id: i64) -> Option<String> {
        self.get(&self.usernames, &user_id)
    }

    /// An entry of `table`, unless the cache is bypassed (not watching).
    fn get<K, V, Q>(&self, table: &Table<K, V>, key: &Q) -> Option<V>
    where
        K: Hash + Eq + std::borrow::Borrow<Q>,
        V: Clone,
        Q: Hash + Eq + ?Sized,
    {
        if self.enabled.load(Ordering::Acquire) { table.get(key, self.clock.instant()) } else { None }
    }

    /// The generation to pass to `insert_*`; read it before the lookup.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn insert_key(&self, generation: u64, token: SecretHash, key: BearerKey) {
        self.insert(&self.keys, generation, token, key);
    }

    pub fn insert_session(&self, generation: u64, id: SecretHash, session: Session) {
        self.insert(&self.sessions, generation, id, session);
    }

    pub fn insert_client(&self, generation: u64, client: Client) {
        self.insert(&self.clients, generation, client.client_id.clone(), client);
    }

    pub fn insert_username(&self, generation: u64, user_id: i64, username: String) {
        self.insert(&self.usernames, generation, user_id, username);
    }

    fn insert<K: Hash + Eq, V: Clone>(&self, table: &Table<K, V>, generation: u64, key: K, value: V) {
        let mut entries = table.write();
        // Checked under a lock that `flush` takes: a flush either happened
        // before (generation moved, nothing inserted) or clears this entry.
        if !self.enabled.load(Ordering::Acquire) || self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (value, self.clock.instant()));
    }

    /// Keeps a cached key's "last used" time in step with the database, so the
    /// next requests do not write it again.
    pub fn touched(&self, token: &SecretHash, now: i64) {
        if let Some((key, _)) = self.keys.write().get_mut(token) {
            key.last_used_at = Some(now);
        }
    }

    pub fn flush(&self) {
        let mut keys = self.keys.write();
        let mut sessions = self.sessions.write();
        let mut clients = self.clients.write();
        let mut usernames = self.usernames.write();
        self.generation.fetch_add(1, Ordering::AcqRel);
        keys.clear();
        sessions.clear();
        clients.clear();
        usernames.clear();
    }

    fn set_watching(&self, watching: bool) {
        if !watching {
            self.enabled.store(false, Ordering::Release);
        }
        self.flush();
        if watching {
            self.enabled.store(true, Ordering::Release);
        }
    }
}

/// Flushes `cache` on every notification; bypasses it while not listening.
pub(crate) fn watch_postgres(pool: PgPool, cache: Arc<Cache>) {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(50);
        while !pool.is_closed() {
            let listener = async {
                let mut l = PgListener::connect_with(&pool).await?;
                l.listen(CHANNEL).await?;
                Ok::<_, sqlx::Error>(l)
            };
            let Ok(mut listener) = listener.await else {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            };
            backoff = Duration::from_millis(50);
            listener.eager_reconnect(false);
            cache.set_watching(true);
            // `Ok(None)`: the connection was lost, and with it any notification
            // sent meanwhile. Stop trusting the cache until listening again.
            while let Ok(Some(_)) = listener.try_recv().await {
                cache.flush();
                crate::telemetry::credential_change_received("postgres");
            }
            cache.set_watching(false);
        }
    });
}

/// Flushes `cache` whenever the credential-change counter moved; bypasses it while
/// the database cannot be read. Polls on a connection of its own, with
/// statement logging off: ten identical lines a second would bury a debug log.
pub(crate) fn watch_sqlite(opts: SqliteConnectOptions, pool: SqlitePool, cache: Arc<Cache>) {
    let opts = opts.disable_statement_logging();
    tokio::spawn(async move {
        let mut seen: Option<i64> = None;
        let mut conn: Option<SqliteConnection> = None;
        let mut tick = tokio::time::interval(SQLITE_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !pool.is_closed() {
            tick.tick().await;
            let epoch = match &mut conn {
                Some(c) => {
                    sqlx::query_scalar::<_, i64>("SELECT epoch FROM credential_changes WHERE id = 1").fetch_one(c).await
                }
                None => match opts.connect().await {
                    Ok(c) => {
                        conn = Some(c);
                        continue;
                    }
                    Err(e) => Err(e),
                },
            };
            match epoch {
                Ok(epoch) if seen == Some(epoch) => {}
                Ok(epoch) => {
                    // The first reading (or a change): nothing cached can be
                    // trusted to predate it.
                    if seen.is_some() {
                        crate::telemetry::credential_change_received("sqlite");
                    }
                    seen = Some(epoch);
                    cache.set_watching(true);
                }
                Err(_) => {
                    seen = None;
                    conn = None;
                    cache.set_watching(false);
                }
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(expires_at: i64) -> Session {
        Session { user_id: 7, username: "player".into(), is_admin: false, is_banned: false, expires_at }
    }

    fn watching() -> Cache {
        let cache = Cache::default();
        cache.set_watching(true);
        cache
    }

    #[test]
    fn a_cached_session_ends_at_its_expiry_time() {
        let cache = watching();
        let id = SecretHash::from_bytes(&[1; 32]).unwrap();
        cache.insert_session(cache.generation(), id, session(1_000));
        assert_eq!(cache.session(&id, 999).map(|s| s.user_id), Some(7));
        assert!(cache.session(&id, 1_000).is_none());
    }

    #[test]
    fn a_lookup_that_raced_with_a_flush_is_not_cached() {
        let cache = watching();
        let id = SecretHash::from_bytes(&[2; 32]).unwrap();
        let before_the_read = cache.generation();
        cache.flush(); // e.g. the session was deleted while it was being read
        cache.insert_session(before_the_read, id, session(i64::MAX));
        assert!(cache.session(&id, 0).is_none());
    }

    #[test]
    fn nothing_is_served_while_revocations_cannot_be_heard() {
        let cache = watching();
        let id = SecretHash::from_bytes(&[3; 32]).unwrap();
        cache.insert_session(cache.generation(), id, session(i64::MAX));
        cache.insert_username(cache.generation(), 7, "player".into());
        cache.set_watching(false);
        assert!(cache.session(&id, 0).is_none());
        assert!(cache.username(7).is_none());
    }

    #[test]
    fn an_entry_is_trusted_for_max_age_and_no_longer() {
        let clock = Clock::fixed();
        let cache = Cache::new(clock.clone());
        cache.set_watching(true);
        cache.insert_username(cache.generation(), 7, "player".into());
        clock.advance(MAX_AGE - Duration::from_millis(1));
        assert_eq!(cache.username(7).as_deref(), Some("player"));
        clock.advance(Duration::from_millis(1));
        assert!(cache.username(7).is_none(), "an entry older than MAX_AGE is not served");
    }
}
