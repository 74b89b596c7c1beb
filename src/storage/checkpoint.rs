//! SQLite's WAL checkpoints, moved off the write path.
//!
//! By default the commit that takes the write-ahead log past 1000 pages
//! copies them into the database file before it returns, and every exchange
//! waiting behind it waits too: those 5–15 ms stalls were W2's p99. Here a
//! connection of its own copies the log every [`EVERY`] while writes go on
//! (a PASSIVE checkpoint never blocks them), then copies the few pages
//! committed meanwhile with writes held back (well under a millisecond), so
//! that the log has been copied whole and the next write starts it over
//! rather than letting it grow. Durability is unchanged: a commit is in the
//! log (and in the OS's hands) before it is answered, whenever it is copied.

use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection, SqlitePool};
use sqlx::{ConnectOptions, Connection};

use super::SqliteWriter;

const EVERY: Duration = Duration::from_millis(20);

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
            match pass(c).await {
                // Unchanged since the last pass that held writes back: idle.
                Ok(seen) if seen.0 == 0 || seen == whole => {}
                Ok(_) => {
                    // Writes went on during that pass: copy what they added
                    // while they wait, so that the log is copied whole.
                    let _held = writer.lock().await;
                    match pass(c).await {
                        Ok(seen) => whole = seen,
                        Err(_) => conn = None,
                    }
                }
                Err(_) => conn = None,
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    });
}

/// One PASSIVE checkpoint: (pages in the log, pages copied into the database).
async fn pass(c: &mut SqliteConnection) -> Result<(i64, i64), sqlx::Error> {
    let (_busy, log, copied) =
        sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(c).await?;
    Ok((log, copied))
}
