//! SQLite's WAL checkpoints, moved off the write path.
//!
//! By default the commit that takes the write-ahead log past 1000 pages
//! copies them into the database file before it returns, and every exchange
//! waiting behind it waits too: such stalls set the writes' tail latency.
//! Here a connection of its own copies the log every [`EVERY`] while writes
//! go on (a PASSIVE checkpoint never blocks them). A log copied while writes
//! go on is never copied *whole*, and only a log copied whole starts over,
//! so once it passes [`HOLD_PAGES`] the few pages committed meanwhile are
//! copied with writes held back. Durability is unchanged: a commit is in the
//! log (and in the OS's hands) before it is answered, whenever it is copied.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};
use sqlx::{ConnectOptions, Connection};

use super::SqliteWriter;

const EVERY: Duration = Duration::from_millis(20);

/// Writes are held back (see [`round`]) only for a log of this many pages
/// (4 MiB) or more: each hold costs two `fsync`s whatever it copies.
const HOLD_PAGES: i64 = 1000;

/// Passes run back to back, before holding writes back, until one finds at
/// most [`TAIL_PAGES`] new pages (or this many have run).
const MAX_CATCH_UP: usize = 4;
const TAIL_PAGES: i64 = 64;

/// The writer keeps SQLite's own checkpoint only as a backstop, for a log
/// this task somehow lets grow past this many pages (16 MiB).
pub(super) const BACKSTOP_PAGES: &str = "4000";

pub(super) fn start(opts: SqliteConnectOptions, pool: SqlitePool, writer: SqliteWriter) {
    let opts = opts.disable_statement_logging();
    tokio::spawn(async move {
        let mut conn: Option<SqliteConnection> = None;
        // (pages in the log, pages copied) after the last pass that held writes back.
        let mut whole = (0, 0);
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !pool.is_closed() {
            tick.tick().await;
            let c = match &mut conn {
                Some(c) => c,
                None => match opts.connect().await {
                    Ok(c) => conn.insert(c),
                    Err(_) => continue,
                },
            };
            if round(c, &writer, &mut whole).await.is_err() {
                conn = None;
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    });
}

/// One round: copy the log while writes go on; once it has grown past
/// [`HOLD_PAGES`], copy again until the pages that writes add during a pass
/// are few, then copy those with writes held back, so that the log is
/// copied whole and starts over. Holding writes back costs two `fsync`s
/// (log and database) whatever the number of pages, and `fsync` is slow
/// under load: done every round it would take much of the writer's time.
async fn round(c: &mut SqliteConnection, writer: &SqliteWriter, whole: &mut (i64, i64)) -> Result<(), sqlx::Error> {
    let mut seen = pass(c).await?;
    // Short, or unchanged since the last pass that held writes back: enough.
    if seen.0 < HOLD_PAGES || seen == *whole {
        return Ok(());
    }
    for _ in 0..MAX_CATCH_UP {
        let next = pass(c).await?;
        let added = next.0 - seen.0;
        seen = next;
        if added < 0 {
            return Ok(()); // the log started over meanwhile
        }
        if added <= TAIL_PAGES {
            break;
        }
    }
    let _held = writer.lock().await;
    *whole = pass(c).await?;
    Ok(())
}

/// One PASSIVE checkpoint: (pages in the log, pages copied into the database).
async fn pass(c: &mut SqliteConnection) -> Result<(i64, i64), sqlx::Error> {
    let (_busy, log, copied) =
        sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(c).await?;
    Ok((log, copied))
}
