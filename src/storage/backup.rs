//! `tachi-auth backup`: a consistent copy of a live SQLite database; and
//! `tachi-auth restore`, which puts one back.
//!
//! `VACUUM INTO` copies what one read transaction sees, so a server may go
//! on writing meanwhile (in WAL mode readers never block the writer). The
//! copy is then opened on its own and checked (`PRAGMA integrity_check`)
//! before the backup is reported. PostgreSQL has its own tool, `pg_dump`.

use std::path::{Path, PathBuf};
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

/// What a finished restore did.
#[derive(Debug)]
pub struct RestoreReport {
    /// The database file written.
    pub target: PathBuf,
    pub bytes: u64,
    /// Migrations the backup records, and how many newer ones this version
    /// has (applied by the server when it next starts).
    pub migrations: usize,
    pub newer_here: usize,
    /// Where the database that was replaced now is, if there was one.
    pub replaced: Option<PathBuf>,
}

/// Replaces the SQLite database at `url` with the backup `from`.
///
/// Refused when a process has the database open: SQLite's own locks say
/// so (see [`in_use`]), so a server, an operator command or a `sqlite3`
/// shell is seen alike. The backup must pass SQLite's integrity check, be a
/// tachi-auth database, and have no migration this version does not know
/// (a newer schema); an older one is accepted, and the server migrates it
/// when it starts, as on an upgrade. The backup is copied beside the
/// database and renamed over it, so the database is never half written; the
/// replaced one is moved aside (with its `-wal` and `-shm` files), not deleted.
pub async fn restore_sqlite(from: &Path, url: &str) -> Result<RestoreReport, OpenError> {
    let opts = SqliteConnectOptions::from_str(url).map_err(|e| OpenError(format!("invalid database URL: {e}")))?;
    let target = open::absolute(opts.get_filename());
    let source = open::absolute(from);
    let fail = |why: String| OpenError(format!("cannot restore {} into {}: {why}", source.display(), target.display()));
    if !source.is_file() {
        return Err(fail("the backup file does not exist".into()));
    }
    if target.exists() && std::fs::canonicalize(&target).ok() == std::fs::canonicalize(&source).ok() {
        return Err(fail("that is the database itself".into()));
    }
    if let Some(e) = open::sqlite_precheck(&target, true) {
        return Err(e);
    }
    if in_use(&target) {
        return Err(fail(
            "a process has the database open (a tachi-auth server or command, or a sqlite3 shell): stop it first"
                .into(),
        ));
    }

    let mut backup = SqliteConnectOptions::new()
        .filename(&source)
        .read_only(true)
        .connect()
        .await
        .map_err(|e| fail(format!("the backup cannot be opened: {}", open::reason(&e))))?;
    let verdict = integrity(&mut backup).await.map_err(|e| fail(format!("the backup cannot be read: {e}")))?;
    if verdict != ["ok"] {
        let _ = backup.close().await;
        return Err(fail(format!("the backup fails SQLite's integrity check: {}", verdict.join("; "))));
    }
    let recorded = sqlx::query("SELECT version, checksum FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(&mut backup)
        .await
        .map_err(|_| fail("it is not a tachi-auth database (it has no schema)".into()));
    let recorded = match recorded {
        Ok(rows) => rows,
        Err(e) => {
            let _ = backup.close().await;
            return Err(e);
        }
    };
    let known = sqlx::migrate!("migrations/sqlite");
    for row in &recorded {
        let version: i64 = row.try_get(0).map_err(|e| fail(open::reason(&e)))?;
        let checksum: Vec<u8> = row.try_get(1).map_err(|e| fail(open::reason(&e)))?;
        let ours = known.iter().find(|m| m.version == version && !m.migration_type.is_down_migration());
        let why = match ours {
            None => format!(
                "it was made by a newer tachi-auth: its schema has migration {version}, which this version does \
                 not know (restore it with that version or a later one)"
            ),
            Some(m) if *m.checksum != *checksum => {
                format!("its migration {version} is not this version's (the schema was changed by hand)")
            }
            Some(_) => continue,
        };
        let _ = backup.close().await;
        return Err(fail(why));
    }
    let newer_here =
        known.iter().filter(|m| !m.migration_type.is_down_migration()).count().saturating_sub(recorded.len());

    // The copy is written beside the database, so the rename below is atomic.
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let copy = target.with_file_name(format!(".{name}.restoring-{}", std::process::id()));
    let _ = std::fs::remove_file(&copy);
    let copy_text = copy.to_str().ok_or_else(|| fail("the path is not UTF-8".into()))?.to_owned();
    let copied = sqlx::query("VACUUM INTO $1").bind(&copy_text).execute(&mut backup).await;
    let _ = backup.close().await;
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&copy);
        return Err(fail(format!("the copy could not be written: {}", open::reason(&e))));
    }
    let checked = async {
        let mut c = SqliteConnectOptions::new()
            .filename(&copy)
            .read_only(true)
            .connect()
            .await
            .map_err(|e| open::reason(&e))?;
        let verdict = integrity(&mut c).await;
        let _ = c.close().await;
        verdict
    };
    match checked.await {
        Ok(verdict) if verdict == ["ok"] => {}
        outcome => {
            let _ = std::fs::remove_file(&copy);
            return Err(fail(format!("the copy fails SQLite's integrity check: {outcome:?}")));
        }
    }
    let bytes = std::fs::metadata(&copy).map(|m| m.len()).unwrap_or(0);
    if let Ok(old) = std::fs::metadata(&target) {
        // The server's user must be able to write the restored file as it did the old one.
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let _ = std::os::unix::fs::chown(&copy, Some(old.uid()), Some(old.gid()));
        }
        let _ = std::fs::set_permissions(&copy, old.permissions());
    }
    let replaced = move_aside(&target).map_err(|e| {
        let _ = std::fs::remove_file(&copy);
        fail(format!("the database could not be moved aside: {e}"))
    })?;
    std::fs::rename(&copy, &target).map_err(|e| fail(format!("the copy could not be put in place: {e}")))?;
    if let Some(folder) = target.parent().and_then(|f| std::fs::File::open(f).ok()) {
        let _ = folder.sync_all();
    }
    Ok(RestoreReport { target, bytes, migrations: recorded.len(), newer_here, replaced })
}

async fn integrity(db: &mut sqlx::SqliteConnection) -> Result<Vec<String>, String> {
    let rows = sqlx::query("PRAGMA integrity_check").fetch_all(&mut *db).await.map_err(|e| open::reason(&e))?;
    rows.iter().map(|r| r.try_get::<String, _>(0)).collect::<Result<_, _>>().map_err(|e| open::reason(&e))
}

/// Renames the database and its `-wal` and `-shm` files to
/// `<name>.replaced-<unix time>[-wal|-shm]` (a stale `-wal` must not be
/// applied to the restored file). `None`: there was no database.
fn move_aside(db: &Path) -> std::io::Result<Option<PathBuf>> {
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let with = |p: &Path, suffix: &str| {
        let mut s = p.as_os_str().to_owned();
        s.push(suffix);
        PathBuf::from(s)
    };
    let aside = with(db, &format!(".replaced-{stamp}"));
    let mut moved = None;
    for suffix in ["", "-wal", "-shm"] {
        let file = with(db, suffix);
        if file.exists() {
            std::fs::rename(&file, with(&aside, suffix))?;
            if suffix.is_empty() {
                moved = Some(aside.clone());
            }
        }
    }
    Ok(moved)
}

/// Whether any process has the SQLite database at `db` open, by SQLite's
/// own locks: in WAL mode every connection holds a read lock on the shared
/// memory file's "DMS" byte while it is open, and a reader or writer locks
/// bytes of the database file. Asked with `F_GETLK`, which takes no lock.
fn in_use(db: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        // SQLite's unix VFS: the lock bytes of the database file (from
        // PENDING_BYTE, 0x40000000: pending, reserved, then 510 shared)
        // and of the -shm file (the DMS byte, after 8 lock slots from 120).
        const PENDING_BYTE: i64 = 0x4000_0000;
        const SHM_DMS: i64 = 128;
        let locked = |path: &Path, start: i64, len: i64| {
            let Ok(file) = std::fs::File::open(path) else { return false };
            // SAFETY: a zeroed flock is valid; fcntl F_GETLK only writes into it.
            let mut lock: libc::flock = unsafe { std::mem::zeroed() };
            lock.l_type = libc::F_WRLCK as libc::c_short;
            lock.l_whence = libc::SEEK_SET as libc::c_short;
            lock.l_start = start;
            lock.l_len = len;
            let asked = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
            asked == 0 && lock.l_type != libc::F_UNLCK as libc::c_short
        };
        let mut shm = db.as_os_str().to_owned();
        shm.push("-shm");
        locked(db, PENDING_BYTE, 512) || locked(Path::new(&shm), SHM_DMS, 1)
    }
    #[cfg(not(unix))]
    {
        let _ = db;
        false
    }
}

/// The `pg_restore` command that loads the custom-format dump `from` (made
/// by `pg_dump --format=custom`, see [`pg_dump_command`]) into the
/// PostgreSQL database at `url`, replacing its objects, without its password.
pub fn pg_restore_command(url: &str, from: &Path) -> Result<String, OpenError> {
    let dump = pg_dump_command(url, from)?;
    let args = dump.strip_prefix("pg_dump --format=custom ").unwrap_or(&dump);
    let (connection, file) = args.rsplit_once(" --file=").unwrap_or((args, ""));
    Ok(format!("pg_restore --clean --if-exists --no-owner --single-transaction {connection} {file}"))
}
