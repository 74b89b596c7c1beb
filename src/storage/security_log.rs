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

    /// Forgets the events older than `before` (ms).
    pub async fn prune_security_log(&self, before: i64) -> StoreResult<u64> {
        on_writer!(self, db => Ok(sqlx::query("DELETE FROM security_log WHERE at < $1")
            .bind(before)
            .execute(&mut *db)
            .await?
            .rows_affected()))
    }
}
