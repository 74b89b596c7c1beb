//! `tachi-auth backup`: a consistent copy of a live SQLite database.
//!
//! `VACUUM INTO` copies what one read transaction sees, so a server may go
//! on writing meanwhile (in WAL mode readers never block the writer). The
//! copy is then opened on its own and checked (`PRAGMA integrity_check`)
//! before the backup is reported. PostgreSQL has its own tool, `pg_dump`.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use super::open::{self, OpenError};

/// What a finished backup holds.
#[derive(Debug)]
pub struct BackupReport {
    pub bytes: u64,
    pub migrations: usize,
}

/// Copies the SQLite database at `url` to the new file `to`, and checks the copy.
pub async fn sqlite(url: &str, to: &Path) -> Result<BackupReport, OpenError> {
    let opts = SqliteConnectOptions::from_str(url).map_err(|e| OpenError(format!("invalid database URL: {e}")))?;
    let file = opts.get_filename().to_path_buf();
    if let Some(e) = open::sqlite_precheck(&file, false) {
        return Err(e);
    }
    let target = open::absolute(to);
    let fail = |why: String| OpenError(format!("cannot back up to {}: {why}", target.display()));
    if target.exists() {
        return Err(fail("the file exists: a backup never overwrites one".into()));
    }
    if !target.parent().is_some_and(Path::is_dir) {
        return Err(fail("its folder does not exist".into()));
    }
    let target_text = target.to_str().ok_or_else(|| fail("the path is not UTF-8".into()))?.to_owned();
    let mut db = opts
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .map_err(|e| open::sqlite_error(&file, e))?;
    let copied = sqlx::query("VACUUM INTO $1").bind(&target_text).execute(&mut db).await;
    let _ = db.close().await;
    copied.map_err(|e| fail(open::reason(&e)))?;

    let check = async {
        let mut copy = SqliteConnectOptions::new().filename(&target).read_only(true).connect().await?;
        let rows = sqlx::query("PRAGMA integrity_check").fetch_all(&mut copy).await?;
        let verdict: Vec<String> = rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>()?;
        let migrations: i64 = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut copy)
            .await?
            .try_get(0)?;
        let _ = copy.close().await;
        Ok::<_, sqlx::Error>((verdict, migrations))
    };
    let (verdict, migrations) =
        check.await.map_err(|e| fail(format!("the copy cannot be read back: {}", open::reason(&e))))?;
    if verdict != ["ok"] {
        return Err(fail(format!("the copy fails SQLite's integrity check: {}", verdict.join("; "))));
    }
    let bytes = std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
    Ok(BackupReport { bytes, migrations: usize::try_from(migrations).unwrap_or(0) })
}

/// The `pg_dump` command that backs up the PostgreSQL database at `url`,
/// without its password (pg_dump reads it from `PGPASSWORD` or `~/.pgpass`).
pub fn pg_dump_command(url: &str, to: &Path) -> Result<String, OpenError> {
    let opts = sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(|e| OpenError(format!("invalid database URL: {}", open::reason(&e))))?;
    let quote = |s: &str| {
        if s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:@".contains(c)) {
            s.to_owned()
        } else {
            format!("'{}'", s.replace('\'', r"'\''"))
        }
    };
    Ok(format!(
        "pg_dump --format=custom --host={} --port={} --username={} --dbname={} --file={}",
        quote(opts.get_host()),
        opts.get_port(),
        quote(opts.get_username()),
        quote(opts.get_database().unwrap_or(opts.get_username())),
        quote(&to.display().to_string()),
    ))
}
