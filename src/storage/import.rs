//! Bulk writes of `tachi-auth import`: every record of an export in one
//! transaction, written a batch of rows per statement.
//!
//! Each statement skips rows already stored (`ON CONFLICT DO NOTHING`) and
//! reports how many it wrote: running the same import again writes nothing
//! and says so.

use futures_util::TryStreamExt;

use super::{Params, Store, StoreResult, on_pool, push_placeholders};

use crate::domain::Client;
use crate::domain::{PermissionSet, SecretHash};

/// An account as Tachi's `users` document has it. Its e-mail and password
/// come from another collection, and are set by [`Importer::set_logins`].
#[derive(Debug, Clone)]
pub struct ImportedUser {
    pub id: i64,
    pub username: String,
    pub username_key: String,
    pub about: String,
    pub status: Option<String>,
    pub is_admin: bool,
    pub is_banned: bool,
    pub is_moderator: bool,
    pub created_at: i64,
    pub last_seen: Option<i64>,
    /// A JSON object, as text.
    pub social_media: String,
    /// A JSON array, as text.
    pub badges: String,
    pub custom_pfp_location: Option<String>,
    pub custom_banner_location: Option<String>,
    pub is_supporter: bool,
}

/// What Tachi keeps apart from the profile: the e-mail and the password's
/// hash. No `Debug`: it holds a password hash.
pub struct ImportedLogin {
    pub user_id: i64,
    pub email: String,
    pub password_hash: String,
}

/// An API key whose token (Tachi's 40 hex digits) is known only by its
/// hash; it is found by that hash (`legacy_token`, see `domain::api_key`).
#[derive(Debug, Clone)]
pub struct ImportedKey {
    pub id: String,
    pub token_hash: SecretHash,
    pub user_id: i64,
    pub identifier: String,
    pub permissions: PermissionSet,
    pub client_id: Option<String>,
    pub created_at: i64,
}

/// Rows per statement: far below either engine's limit of parameters
/// (SQLite 32 766, PostgreSQL 65 535) at the widest row, few enough
/// statements that their round trips cost little.
pub const BATCH: usize = 500;

const USER_INSERT: &str = "INSERT INTO users (id, username, username_key, email, password_hash, about, status, \
     is_admin, is_banned, is_moderator, created_at, last_seen, social_media, badges, custom_pfp_location, \
     custom_banner_location, is_supporter, username_skeleton) VALUES ";
const USER_WIDTH: usize = 18;
/// What an account holds until [`Importer::set_logins`] gives it its own:
/// no hash verifies against it, and only rows written by this import hold it.
const NO_PASSWORD_YET: &str = "";

const CLIENT_INSERT: &str = "INSERT INTO clients (client_id, secret_hash, name, author_id, redirect_uri, \
     webhook_uri, permissions, api_key_format, api_key_filename, require_pkce, created_at) VALUES ";
const CLIENT_WIDTH: usize = 11;

const KEY_INSERT: &str = "INSERT INTO api_keys (id, token_hash, user_id, identifier, permissions, client_id, \
     created_at, legacy_token) VALUES ";
const KEY_WIDTH: usize = 8;

const SKIP_STORED: &str = " ON CONFLICT DO NOTHING";

/// The connection an import writes through, with its transaction open.
enum Conn {
    /// The store's one writer (see `Pool::Sqlite`), held for the whole import.
    Sqlite(tokio::sync::OwnedMutexGuard<sqlx::SqliteConnection>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

/// Runs `$body` with `$c` bound to the import's connection, on either engine.
macro_rules! on_conn {
    ($importer:expr, $c:ident => $body:expr) => {
        match $importer.conn.as_mut().expect("an import's connection is held until it ends") {
            Conn::Sqlite(guard) => {
                let $c: &mut sqlx::SqliteConnection = &mut *guard;
                $body
            }
            Conn::Postgres(pooled) => {
                let $c: &mut sqlx::PgConnection = &mut *pooled;
                $body
            }
        }
    };
}

/// One import's transaction. Nothing it wrote is seen by anyone until
/// [`Importer::commit`]; dropped or [`Importer::rollback`]ed, it leaves
/// nothing behind.
pub struct Importer {
    /// `None` only once it has ended (see `Drop`).
    conn: Option<Conn>,
    params: Params,
}

impl Store {
    /// Begins the import's transaction (on SQLite, takes the writer until
    /// it ends: an import is the only writer while it runs).
    pub async fn begin_import(&self) -> StoreResult<Importer> {
        super::assert_not_droppable();
        let params = Params::for_engine(&self.pool, 1);
        let conn = match &self.pool {
            super::Pool::Sqlite(_, writer) => Conn::Sqlite(writer.clone().lock_owned().await),
            super::Pool::Postgres(p) => Conn::Postgres(p.acquire().await?),
        };
        let begin = match conn {
            Conn::Sqlite(_) => "BEGIN IMMEDIATE",
            Conn::Postgres(_) => "BEGIN",
        };
        // Until BEGIN has run, there is nothing for `Drop` to undo.
        let mut importer = Importer { conn: Some(conn), params };
        let begun = on_conn!(importer, c => sqlx::query(begin).execute(&mut *c).await.map(|_| ()));
        if let Err(e) = begun {
            importer.conn = None;
            return Err(e.into());
        }
        Ok(importer)
    }

    /// Calls `each` with the id and username key of every stored user, read
    /// as a stream (not all at once).
    pub async fn each_user(&self, mut each: impl FnMut(i64, &str)) -> StoreResult<()> {
        let sql = "SELECT id, username_key FROM users";
        on_pool!(self, p => {
            let mut rows = sqlx::query_as::<_, (i64, String)>(sql).fetch(p);
            while let Some((id, key)) = rows.try_next().await? {
                each(id, &key);
            }
        });
        Ok(())
    }
}

impl Importer {
    /// Writes the users not stored yet; returns how many were written.
    pub async fn insert_users(&mut self, users: &[ImportedUser]) -> StoreResult<u64> {
        let sql = self.statement(USER_INSERT, users.len(), USER_WIDTH);
        Ok(on_conn!(self, c => {
            let mut q = sqlx::query(&sql);
            for u in users {
                q = q
                    .bind(u.id)
                    .bind(u.username.as_str())
                    .bind(u.username_key.as_str())
                    .bind(NO_PASSWORD_YET)
                    .bind(NO_PASSWORD_YET)
                    .bind(u.about.as_str())
                    .bind(u.status.as_deref())
                    .bind(u.is_admin)
                    .bind(u.is_banned)
                    .bind(u.is_moderator)
                    .bind(u.created_at)
                    .bind(u.last_seen)
                    .bind(u.social_media.as_str())
                    .bind(u.badges.as_str())
                    .bind(u.custom_pfp_location.as_deref())
                    .bind(u.custom_banner_location.as_deref())
                    .bind(u.is_supporter)
                    .bind(crate::domain::user::username_skeleton(&u.username));
            }
            q.execute(&mut *c).await?.rows_affected()
        }))
    }

    /// Gives the users this import wrote their e-mail and password hash.
    /// Users stored before (by an earlier import) keep theirs: a password
    /// changed or upgraded since is not put back.
    pub async fn set_logins(&mut self, logins: &[ImportedLogin]) -> StoreResult<u64> {
        if logins.is_empty() {
            return Ok(0);
        }
        let mut sql = String::from("UPDATE users SET email = v.column2, password_hash = v.column3 FROM (VALUES ");
        push_placeholders(&mut sql, self.params, logins.len(), 3);
        sql.push_str(") AS v WHERE users.id = v.column1 AND users.password_hash = '");
        sql.push_str(NO_PASSWORD_YET);
        sql.push('\'');
        Ok(on_conn!(self, c => {
            let mut q = sqlx::query(&sql);
            for l in logins {
                q = q.bind(l.user_id).bind(l.email.as_str()).bind(l.password_hash.as_str());
            }
            q.execute(&mut *c).await?.rows_affected()
        }))
    }

    /// Writes the clients not stored yet; returns how many were written.
    pub async fn insert_clients(&mut self, clients: &[Client]) -> StoreResult<u64> {
        let sql = self.statement(CLIENT_INSERT, clients.len(), CLIENT_WIDTH);
        Ok(on_conn!(self, c => {
            let mut q = sqlx::query(&sql);
            for r in clients {
                q = q
                    .bind(r.client_id.as_str())
                    .bind(r.secret_hash.as_bytes())
                    .bind(r.name.as_str())
                    .bind(r.author_id)
                    .bind(r.redirect_uri.as_deref())
                    .bind(r.webhook_uri.as_deref())
                    .bind(r.permissions.bits())
                    .bind(r.api_key_format.as_deref())
                    .bind(r.api_key_filename.as_deref())
                    .bind(r.require_pkce)
                    .bind(r.created_at);
            }
            q.execute(&mut *c).await?.rows_affected()
        }))
    }

    /// Writes the keys not stored yet (a key is stored when its token is);
    /// returns how many were written.
    pub async fn insert_keys(&mut self, keys: &[ImportedKey]) -> StoreResult<u64> {
        let sql = self.statement(KEY_INSERT, keys.len(), KEY_WIDTH);
        Ok(on_conn!(self, c => {
            let mut q = sqlx::query(&sql);
            for k in keys {
                q = q
                    .bind(k.id.as_str())
                    .bind(k.token_hash.as_bytes())
                    .bind(k.user_id)
                    .bind(k.identifier.as_str())
                    .bind(k.permissions.bits())
                    .bind(k.client_id.as_deref())
                    .bind(k.created_at)
                    .bind(true);
            }
            q.execute(&mut *c).await?.rows_affected()
        }))
    }

    /// Makes everything written visible at once. On PostgreSQL, the users'
    /// id sequence first moves past the imported ids, so that the next
    /// registration does not take one of them.
    pub async fn commit(mut self) -> StoreResult<()> {
        if let Some(Conn::Postgres(pooled)) = &mut self.conn {
            let sql = "SELECT setval(s, m) FROM (SELECT pg_get_serial_sequence('users', 'id') AS s, \
                       (SELECT MAX(id) FROM users) AS m) AS t \
                       WHERE m > COALESCE(pg_sequence_last_value(s::regclass), 0)";
            sqlx::query(sql).execute(&mut **pooled).await?;
        }
        on_conn!(self, c => sqlx::query("COMMIT").execute(&mut *c).await.map(|_| ())?);
        self.conn = None;
        Ok(())
    }

    /// Undoes everything written (a dry run ends so).
    pub async fn rollback(mut self) -> StoreResult<()> {
        on_conn!(self, c => sqlx::query("ROLLBACK").execute(&mut *c).await.map(|_| ())?);
        self.conn = None;
        Ok(())
    }

    fn statement(&self, insert: &str, rows: usize, width: usize) -> String {
        let mut sql = String::with_capacity(insert.len() + rows * width * 5 + SKIP_STORED.len());
        sql.push_str(insert);
        push_placeholders(&mut sql, self.params, rows, width);
        sql.push_str(SKIP_STORED);
        sql
    }
}

impl Drop for Importer {
    /// An import stopped halfway (an error, a panic) must not leave the
    /// writer, or a pooled connection, inside its transaction: it is rolled
    /// back before the connection is handed on (the SQLite writer stays
    /// locked until then).
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            match conn {
                Conn::Sqlite(mut guard) => {
                    let _ = sqlx::query("ROLLBACK").execute(&mut *guard).await;
                }
                Conn::Postgres(mut pooled) => {
                    if sqlx::query("ROLLBACK").execute(&mut *pooled).await.is_err() {
                        pooled.close_on_drop();
                    }
                }
            }
        });
    }
}
