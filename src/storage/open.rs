//! Opening a database with messages an operator can act on: which file or
//! server, and why it could not be opened (never a password).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// Why a database could not be opened, as one sentence for the operator.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct OpenError(pub String);

/// How a database is named in logs and messages: the SQLite file's absolute
/// path, or the PostgreSQL server, database and user (no password).
pub fn describe(url: &str) -> String {
    if url.starts_with("sqlite:") {
        match SqliteConnectOptions::from_str(url) {
            Ok(opts) => format!("SQLite file {}", absolute(opts.get_filename()).display()),
            Err(_) => "a SQLite database".into(),
        }
    } else {
        match PgConnectOptions::from_str(url) {
            Ok(opts) => pg_name(&opts),
            Err(_) => "a PostgreSQL database".into(),
        }
    }
}

fn pg_name(opts: &PgConnectOptions) -> String {
    format!(
        "PostgreSQL database {} on {}:{} as {}",
        opts.get_database().unwrap_or(opts.get_username()),
        opts.get_host(),
        opts.get_port(),
        opts.get_username()
    )
}

pub(super) fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        return path.to_path_buf();
    }
    std::env::current_dir().map(|d| d.join(path)).unwrap_or_else(|_| path.to_path_buf())
}

/// Before SQLite is asked: a missing file where none may be created, a
/// missing or unwritable folder (WAL mode writes files beside the
/// database). `None`: nothing wrong that can be seen from here.
pub(super) fn sqlite_precheck(file: &Path, create: bool) -> Option<OpenError> {
    let file = absolute(file);
    let fail = |why: String| Some(OpenError(format!("cannot open the SQLite database {}: {why}", file.display())));
    let folder = file.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    if !create && !file.exists() {
        return fail(
            "there is no such file, and operator commands never create one: give the server's --database-url \
             (or TACHI_AUTH_DATABASE_URL)"
                .into(),
        );
    }
    if !folder.is_dir() {
        return fail(format!("the folder {} does not exist", folder.display()));
    }
    if file.is_dir() {
        return fail("that is a folder, not a file".into());
    }
    if !writable(&folder) {
        return fail(format!(
            "the folder {} is not writable by this user (SQLite writes its journal beside the database)",
            folder.display()
        ));
    }
    if file.exists() && !writable(&file) {
        return fail("the file is not writable by this user".into());
    }
    None
}

fn writable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return false };
        // SAFETY: access only reads the NUL-terminated path given.
        unsafe { libc::access(c.as_ptr(), libc::W_OK) == 0 }
    }
    #[cfg(not(unix))]
    {
        !std::fs::metadata(path).map(|m| m.permissions().readonly()).unwrap_or(true)
    }
}

/// An error of SQLite's, with the file named.
pub(super) fn sqlite_error(file: &Path, e: sqlx::Error) -> OpenError {
    OpenError(format!("cannot open the SQLite database {}: {}", absolute(file).display(), reason(&e)))
}

/// An error of PostgreSQL's connection, with the server named and the
/// password (should any message repeat it) masked.
pub(super) fn pg_error(opts: &PgConnectOptions, url: &str, e: &sqlx::Error) -> OpenError {
    let why = reason(e);
    // A refused certificate comes as an I/O error of the TLS layer.
    let certificate = matches!(e, sqlx::Error::Tls(_)) || why.contains("certificate");
    let mut text = format!("cannot connect to the {}: {}{why}", pg_name(opts), if certificate { "TLS: " } else { "" });
    if certificate {
        text.push_str(
            " (with sslmode=verify-ca or verify-full the server's certificate must be signed by the CA of \
             sslrootcert=FILE, or by a public CA without it)",
        );
    }
    let password = url::Url::parse(url).ok().and_then(|u| u.password().map(str::to_owned));
    if let Some(password) = password.filter(|p| !p.is_empty()) {
        text = text.replace(&password, "********");
    }
    OpenError(text)
}

/// What went wrong, without sqlx's wrapping ("error returned from database: …").
pub(super) fn reason(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::PoolTimedOut => "no connection within the acquire timeout (--db-acquire-timeout-ms)".into(),
        sqlx::Error::Tls(t) => t.to_string(),
        other => other.to_string(),
    }
}
