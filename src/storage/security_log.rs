//! The security log: what happened to each account, newest first.

use sqlx::FromRow;

use super::{Store, StoreResult, on_pool, on_writer};

/// One event as recorded. Never a secret: the fields are names, ids and
/// the request's address and user agent.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub struct SecurityEvent {
    pub id: i64,
    pub at: i64,
    pub user_id: Option<i64>,
    pub event: String,
    /// Who did it: `user`, `operator`, `client deletion`, `replayed code`, `system`.
    pub actor: String,
    pub client_id: Option<String>,
    pub detail: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// An event to record.
pub struct NewSecurityEvent<'a> {
    pub at: i64,
    pub user_id: Option<i64>,
    pub event: &'a str,
    pub actor: &'a str,
    pub client_id: Option<&'a str>,
    pub detail: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
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
        on_pool!(self, p => Ok(sqlx::query_as::<_, SecurityEvent>(&sql)
            .bind(user_id)
            .bind(before.unwrap_or(i64::MAX))
            .bind(limit)
            .fetch_all(p)
            .await?))
    }

    /// Every event since `since` (ms), of one user or all, oldest first (the operator's audit).
    pub async fn security_events_since(&self, user_id: Option<i64>, since: i64) -> StoreResult<Vec<SecurityEvent>> {
        let sql = format!("SELECT {COLUMNS} FROM security_log WHERE at >= $1 AND ($2 = 0 OR user_id = $3) ORDER BY id");
        on_pool!(self, p => Ok(sqlx::query_as::<_, SecurityEvent>(&sql)
            .bind(since)
            .bind(i64::from(user_id.is_some()))
            .bind(user_id.unwrap_or(0))
            .fetch_all(p)
            .await?))
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
