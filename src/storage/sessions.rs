//! Login sessions, looked up by the hash of the cookie's value.

use super::records::SessionUserRow;
use super::{Store, StoreError, StoreResult, on_pool, on_writer};
use crate::domain::SecretHash;
use crate::domain::Session;

impl Store {
    /// Opens a session, and ends the user's oldest ones beyond the newest `keep`.
    pub async fn insert_session(
        &self,
        id: &SecretHash,
        user_id: i64,
        now: i64,
        expires_at: i64,
        keep: i64,
    ) -> StoreResult<()> {
        let insert = "INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)";
        let evict = "DELETE FROM sessions WHERE user_id = $1 AND created_at < \
                     (SELECT created_at FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT 1 OFFSET $2)";
        let evicted = on_writer!(self, db => {
            sqlx::query(insert)
                .bind(id.as_bytes())
                .bind(user_id)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *db)
                .await?;
            let evicted = sqlx::query(evict).bind(user_id).bind(keep - 1).execute(&mut *db).await?;
            Ok::<_, StoreError>(evicted.rows_affected())
        })?;
        if evicted > 0 {
            self.credentials_changed();
        }
        Ok(())
    }

    /// The user behind a live session: served from the credential cache when
    /// it can be trusted (see `cache`: a logout or a ban ends a cached session
    /// as it revokes a cached key), otherwise one lookup by primary key.
    pub async fn session_user(&self, id: &SecretHash, now: i64) -> StoreResult<Option<Session>> {
        if let Some(session) = self.cache.session(id, now) {
            return Ok(Some(session));
        }
        let generation = self.cache.generation();
        let sql = "SELECT s.user_id, u.username, u.is_admin, u.is_banned, s.expires_at \
                   FROM sessions s JOIN users u ON u.id = s.user_id \
                   WHERE s.id_hash = $1 AND s.expires_at > $2";
        let session: Option<Session> = on_pool!(self, p => sqlx::query_as::<_, SessionUserRow>(sql)
            .bind(id.as_bytes())
            .bind(now)
            .fetch_optional(p)
            .await?
            .map(Into::into));
        if let Some(session) = &session {
            self.cache.insert_session(generation, *id, session.clone());
        }
        Ok(session)
    }

    pub async fn delete_session(&self, id: &SecretHash) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id.as_bytes()).execute(&mut *db).await?;
            Ok::<_, StoreError>(())
        })?;
        self.credentials_changed();
        Ok(())
    }
}
