//! The security log: what happened to each account, newest first.

use sqlx::FromRow;

use super::{Store, StoreResult, on_pool, on_writer};
use crate::domain::{NewSecurityEvent, SecurityEvent};

/// A row of the security log, decoded into a [`SecurityEvent`].
#[derive(FromRow)]
struct SecurityEventRow {
    id: i64,
    at: i64,
    user_id: Option<i64>,
    event: String,
    actor: String,
    client_id: Option<String>,
    detail: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
}

impl From<SecurityEventRow> for SecurityEvent {
    fn from(r: SecurityEventRow) -> Self {
        SecurityEvent {
            id: r.id,
            at: r.at,
            user_id: r.user_id,
            event: r.event,
            actor: r.actor,
            client_id: r.client_id,
            detail: r.detail,
            ip: r.ip,
            user_agent: r.user_agent,
        }
    }
}

const COLUMNS: &str = "id, at, user_id, event, actor, client_id, detail, ip, user_agent";

impl Store {
    pub async fn insert_security_event(&self, e: &NewSecurityEvent<'_>) -> StoreResult<()> {
        let sql = "INSERT INTO security_log (at, user_id, event, actor, client_id, detail, ip, user_agent) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_writer!(self, db => {
            sqlx::query(sql)
                .bind(e.at)
                .bind(e.user_id)
                .bind(e.event)
                .bind(e.actor)
                .bind(e.client_id)
                .bind(e.detail)
                .bind(e.ip)
                .bind(e.user_agent)
                .execute(&mut *db)
                .await?;
            Ok(())
        })
    }

    /// Up to `limit` events of a user older than the event `before` (an id), newest first.
    pub async fn security_events_of(
        &self,
        user_id: i64,
        before: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<SecurityEvent>> {
        let sql =
            format!("SELECT {COLUMNS} FROM security_log WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3");
        on_pool!(self, p => Ok(sqlx::query_as::<_, SecurityEventRow>(&sql)
            .bind(user_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(SecurityEvent::from)
            .collect()))
    }

    /// Every event since `since` (ms), of one user or all, oldest first (the operator's audit).
    pub async fn security_events_since(&self, user_id: Option<i64>, since: i64) -> StoreResult<Vec<SecurityEvent>> {
        let sql = format!("SELECT {COLUMNS} FROM security_log WHERE at >= $1 AND ($2 = 0 OR user_id = $3) ORDER BY id");
        on_pool!(self, p => Ok(sqlx::query_as::<_, SecurityEventRow>(&sql)
            .bind(since)
            .bind(i64::from(user_id.is_some()))
            .bind(user_id.unwrap_or(0))
            .fetch_all(p)
            .await?
            .into_iter()
            .map(SecurityEvent::from)
            .collect()))
    }

    /// The holders of a client's keys and the keys' ids (to record their
    /// revocation when the client goes), at most `limit`.
    pub async fn keys_of_client(&self, client_id: &str, limit: i64) -> StoreResult<Vec<(i64, String)>> {
        let sql = "SELECT user_id, id FROM api_keys WHERE client_id = $1 LIMIT $2";
        on_pool!(self, p => Ok(sqlx::query_as(sql).bind(client_id).bind(limit).fetch_all(p).await?))
    }

    /// The client that issued a user's key (`None`: a personal key, or no such key).
    pub async fn client_of_key(&self, user_id: i64, key_id: &str) -> StoreResult<Option<String>> {
        let sql = "SELECT client_id FROM api_keys WHERE user_id = $1 AND id = $2";
        let found: Option<Option<String>> =
            on_pool!(self, p => sqlx::query_scalar(sql).bind(user_id).bind(key_id).fetch_optional(p).await?);
        Ok(found.flatten())
    }

    /// Forgets the events older than `before` (ms).
    pub async fn prune_security_log(&self, before: i64) -> StoreResult<u64> {
        on_writer!(self, db => Ok(sqlx::query("DELETE FROM security_log WHERE at < $1")
            .bind(before)
            .execute(&mut *db)
            .await?
            .rows_affected()))
    }
}
