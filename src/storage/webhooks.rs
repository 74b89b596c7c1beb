//! The webhook outbox and the clients' signing secrets.
//!
//! An event is inserted by the transaction that makes the change it reports
//! (`webhook_target!` and `enqueue_events!`, used by `api_keys`, `codes`,
//! `clients` and `recovery`), so a committed change always has its event and
//! an event never reports a change that was rolled back. A worker of any
//! instance claims due rows (`claim_webhooks`), sends them, and records the
//! outcome; finished rows stay a while for the dashboard.

use sqlx::FromRow;

use super::{Pool, Store, StoreResult, on_pool, on_writer};
use crate::domain::WebhookDelivery;
use crate::domain::webhook::SigningSecret;

/// Where a client's events go, if it has a webhook and a signing secret
/// (a client made before webhooks were signed has none until its author
/// rotates one); one primary-key read inside the caller's transaction.
pub(super) const TARGET: &str = "SELECT c.webhook_uri FROM clients c JOIN webhook_secrets s ON s.client_id = c.client_id \
     WHERE c.client_id = $1 AND c.webhook_uri IS NOT NULL";

pub(super) const INSERT: &str = "INSERT INTO webhook_outbox (event_id, client_id, url, event, payload, created_at, \
     next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6, $6)";

/// The webhook URL of client `$client_id`, read in the transaction `$db`
/// (`None`: its changes send no event).
macro_rules! webhook_target {
    ($db:expr, $client_id:expr) => {
        sqlx::query_scalar::<_, String>($crate::storage::webhooks::TARGET).bind($client_id).fetch_optional(&mut *$db)
    };
}
pub(super) use webhook_target;

/// Inserts, in the transaction `$db`, one outbox row per event of
/// `$events` for client `$client_id`, whose webhook is `$url`; evaluates to
/// how many (an `sqlx::Result`).
macro_rules! enqueue_events {
    ($db:expr, $client_id:expr, $url:expr, $events:expr) => {
        async {
            let now = $crate::domain::now_ms();
            let mut queued = 0usize;
            for event in $events {
                let m = $crate::domain::webhook::Event::message(&event, $client_id, now);
                sqlx::query($crate::storage::webhooks::INSERT)
                    .bind(m.id.as_str())
                    .bind($client_id)
                    .bind($url)
                    .bind(m.kind)
                    .bind(m.body.as_str())
                    .bind(m.created_at)
                    .execute(&mut *$db)
                    .await?;
                queued += 1;
            }
            Ok::<usize, sqlx::Error>(queued)
        }
    };
}
pub(super) use enqueue_events;

/// A delivery a worker has claimed.
#[derive(Debug, Clone, FromRow)]
pub struct ClaimedDelivery {
    pub id: i64,
    pub event_id: String,
    pub client_id: String,
    pub url: String,
    pub event: String,
    pub payload: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub created_at: i64,
}

/// A row of the outbox as the dashboard lists it, decoded into a [`WebhookDelivery`].
#[derive(FromRow)]
struct DeliveryRow {
    event_id: String,
    event: String,
    created_at: i64,
    state: String,
    attempts: i64,
    next_attempt_at: i64,
    finished_at: Option<i64>,
    last_status: Option<i64>,
    last_error: Option<String>,
}

impl From<DeliveryRow> for WebhookDelivery {
    fn from(r: DeliveryRow) -> Self {
        WebhookDelivery {
            event_id: r.event_id,
            event: r.event,
            created_at: r.created_at,
            state: r.state,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            finished_at: r.finished_at,
            last_status: r.last_status,
            last_error: r.last_error,
        }
    }
}

/// How an attempt ended, as the outbox records it.
pub enum AttemptOutcome<'a> {
    Delivered {
        status: u16,
    },
    /// Try again at `at` (unix ms).
    Retry {
        at: i64,
        status: Option<u16>,
        error: &'a str,
    },
    /// Given up.
    Failed {
        status: Option<u16>,
        error: &'a str,
    },
}

const CLAIM_SQLITE: &str = "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
     WHERE id IN (SELECT id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
                  ORDER BY next_attempt_at, id LIMIT $3) \
     AND state = 'pending' AND next_attempt_at <= $1 \
     RETURNING id, event_id, client_id, url, event, payload, attempts, created_at";

/// On PostgreSQL several instances claim at once: a row another one is
/// claiming is skipped rather than waited for (and then claimed twice).
const CLAIM_POSTGRES: &str = "UPDATE webhook_outbox SET attempts = attempts + 1, next_attempt_at = $2 \
     WHERE id IN (SELECT id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
                  ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
     RETURNING id, event_id, client_id, url, event, payload, attempts, created_at";

impl Store {
    /// Claims up to `limit` due deliveries: their next attempt moves to
    /// `lease_until`, so no other worker (of this or another instance) takes
    /// them while this one sends, and a crash mid-send only delays them.
    pub async fn claim_webhooks(&self, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<ClaimedDelivery>> {
        let sql = match self.pool {
            Pool::Sqlite(..) => CLAIM_SQLITE,
            Pool::Postgres(_) => CLAIM_POSTGRES,
        };
        on_writer!(self, db => Ok(sqlx::query_as::<_, ClaimedDelivery>(sql)
            .bind(now)
            .bind(lease_until)
            .bind(limit)
            .fetch_all(&mut *db)
            .await?))
    }

    /// Is a delivery due? A read, so an idle worker's polls never take the writer.
    pub async fn webhooks_due(&self, now: i64) -> StoreResult<bool> {
        let sql = "SELECT id FROM webhook_outbox WHERE state = 'pending' AND next_attempt_at <= $1 LIMIT 1";
        let due: Option<i64> = on_pool!(self, p => sqlx::query_scalar(sql).bind(now).fetch_optional(p).await?);
        Ok(due.is_some())
    }

    /// Records how the `attempt`th attempt of delivery `id` ended. Only the
    /// claim that made that attempt may record it.
    pub async fn record_webhook_attempt(
        &self,
        id: i64,
        attempt: i64,
        now: i64,
        outcome: AttemptOutcome<'_>,
    ) -> StoreResult<()> {
        let (state, next, finished, status, error) = match outcome {
            AttemptOutcome::Delivered { status } => ("delivered", None, Some(now), Some(status), None),
            AttemptOutcome::Retry { at, status, error } => ("pending", Some(at), None, status, Some(error)),
            AttemptOutcome::Failed { status, error } => ("failed", None, Some(now), status, Some(error)),
        };
        let sql = "UPDATE webhook_outbox SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at), \
                   finished_at = $5, last_status = $6, last_error = $7 \
                   WHERE id = $1 AND attempts = $2 AND state = 'pending'";
        on_writer!(self, db => {
            sqlx::query(sql)
                .bind(id)
                .bind(attempt)
                .bind(state)
                .bind(next)
                .bind(finished)
                .bind(status.map(i64::from))
                .bind(error)
                .execute(&mut *db)
                .await?;
            Ok(())
        })
    }

    /// The secret a client's events are signed with, if it has one.
    pub async fn webhook_secret(&self, client_id: &str) -> StoreResult<Option<SigningSecret>> {
        let sql = "SELECT secret FROM webhook_secrets WHERE client_id = $1";
        let text: Option<String> =
            on_pool!(self, p => sqlx::query_scalar(sql).bind(client_id).fetch_optional(p).await?);
        Ok(text.and_then(SigningSecret::from_stored))
    }

    /// Sets (or replaces) a client's signing secret.
    pub async fn put_webhook_secret(&self, client_id: &str, secret: &SigningSecret, now: i64) -> StoreResult<()> {
        let sql = "INSERT INTO webhook_secrets (client_id, secret, created_at) VALUES ($1, $2, $3) \
                   ON CONFLICT (client_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at";
        on_writer!(self, db => {
            sqlx::query(sql).bind(client_id).bind(secret.expose()).bind(now).execute(&mut *db).await?;
            Ok(())
        })
    }

    /// A client's newest events, newest first, at most `limit`.
    pub async fn webhook_deliveries(&self, client_id: &str, limit: i64) -> StoreResult<Vec<WebhookDelivery>> {
        let sql = "SELECT event_id, event, created_at, state, attempts, next_attempt_at, finished_at, last_status, \
                   last_error FROM webhook_outbox WHERE client_id = $1 ORDER BY id DESC LIMIT $2";
        on_pool!(self, p => Ok(sqlx::query_as::<_, DeliveryRow>(sql)
            .bind(client_id)
            .bind(limit)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(WebhookDelivery::from)
            .collect()))
    }

    /// Forgets deliveries finished before `before` (ms), and the secrets of
    /// deleted clients once none of their events is pending.
    pub async fn prune_webhooks(&self, before: i64) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("DELETE FROM webhook_outbox WHERE state <> 'pending' AND finished_at < $1")
                .bind(before)
                .execute(&mut *db)
                .await?;
            sqlx::query(
                "DELETE FROM webhook_secrets WHERE client_id NOT IN (SELECT client_id FROM clients) \
                 AND client_id NOT IN (SELECT client_id FROM webhook_outbox WHERE state = 'pending')",
            )
            .execute(&mut *db)
            .await?;
            Ok(())
        })
    }

    /// Wakes this instance's webhook worker: called after a commit that
    /// queued events, so they leave at once rather than at the next poll.
    pub(super) fn webhooks_queued(&self, queued: usize) {
        if queued > 0 {
            self.outbox.notify_one();
        }
    }

    /// What the webhook worker waits on between polls.
    pub fn outbox_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox.clone()
    }
}
