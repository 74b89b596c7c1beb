//! Login sessions, looked up by the hash of the cookie's value.

use super::records::SessionUserRow;
use super::{SessionUser, Store, StoreResult, on_pool, on_writer};
use crate::domain::SecretHash;

impl Store {
    pub async fn insert_session(&self, id: &SecretHash, user_id: i64, now: i64, expires_at: i64) -> StoreResult<()> {
        let sql = "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        on_writer!(self, db => {
            sqlx::query(sql)
                .bind(id.as_bytes())
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *db)
                .await?;
            Ok(())
        })
    }

    /// The user behind a live session: one lookup by primary key.
    pub async fn session_user(&self, id: &SecretHash, now: i64) -> StoreResult<Option<SessionUser>> {
        let sql = "SELECT s.user_id, u.username, u.is_admin, u.is_banned \
                   FROM sessions s JOIN users u ON u.id = s.user_id \
                   WHERE s.id_hash = $1 AND s.expires_at > $2";
        on_pool!(self, p => Ok(sqlx::query_as::<_, SessionUserRow>(sql)
            .bind(id.as_bytes())
            .bind(now)
            .fetch_optional(p)
            .await?
            .map(Into::into)))
    }

    pub async fn delete_session(&self, id: &SecretHash) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id.as_bytes()).execute(&mut *db).await?;
            Ok(())
        })
    }
}
