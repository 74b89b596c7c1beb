//! Signed events to integrations: the worker that delivers the outbox, and
//! what a client's author may do about their webhook (rotate its signing
//! secret, see its recent deliveries).
//!
//! Events are queued by storage, in the transaction of the change they
//! report. The worker of each instance claims due rows, signs each attempt
//! as the Standard Webhooks specification says, and records the outcome: a
//! 2xx answer delivers it; any other answer, an error or a timeout is tried
//! again after an exponential back-off, until the retry horizon has passed
//! since the event, when it is given up with a log line. A destination the
//! SSRF guard refuses is given up at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::domain::now_ms;
use crate::domain::webhook::{SigningSecret, backoff};
use crate::domain::{Client, WebhookDelivery};
use crate::storage::{AttemptOutcome, ClaimedDelivery};
use crate::webhook::SendError;

use super::audit::actor;
use super::{Caller, Service, ServiceResult};

/// Deliveries one instance sends at once: a slow endpoint holds one of
/// them for at most the timeout, not the whole outbox.
const IN_FLIGHT: usize = 32;
/// The longest wait between attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);
/// Deliveries the dashboard shows per client.
pub const DELIVERIES_SHOWN: i64 = 20;
/// How long finished deliveries are kept for the dashboard.
pub const DELIVERIES_KEPT: Duration = Duration::from_secs(7 * 86_400);

impl Service {
    /// A new signing secret for a client's webhook, shown in this response
    /// only; deliveries are signed with it from now on. (A client made before
    /// webhooks were signed gets its first secret this way.)
    pub async fn rotate_webhook_secret(
        &self,
        caller: &Caller,
        client_id: &str,
    ) -> ServiceResult<(Client, SigningSecret)> {
        let client = self.owned_client(caller, client_id).await?;
        let secret = SigningSecret::generate();
        self.store.put_webhook_secret(client_id, &secret, now_ms()).await?;
        self.record(client.author_id, "webhook secret rotated", actor::USER, Some(client_id), None).await;
        Ok((client, secret))
    }

    /// A client's recent deliveries, newest first, and whether it has a
    /// signing secret (without one, no event is sent to it).
    pub async fn webhook_deliveries(
        &self,
        caller: &Caller,
        client_id: &str,
    ) -> ServiceResult<(Vec<WebhookDelivery>, bool)> {
        self.owned_client(caller, client_id).await?;
        let deliveries = self.store.webhook_deliveries(client_id, DELIVERIES_SHOWN).await?;
        let signed = self.store.webhook_secret(client_id).await?.is_some();
        Ok((deliveries, signed))
    }

    /// The webhook worker: sends due deliveries as they come, until `stop`
    /// turns true; then waits for the attempts under way (each bounded by
    /// the timeout) and returns.
    pub async fn run_webhooks(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let queued = self.store.outbox_signal();
        // Another instance's or process's events are found by polling.
        let poll = self.settings.webhooks.retry_base.clamp(Duration::from_millis(50), Duration::from_secs(1));
        // A claimed delivery is left alone this long; past it, its worker is
        // presumed dead (killed mid-attempt) and another may send it. An
        // attempt ends within the timeout; the margin is for recording it.
        let lease = (self.settings.webhooks.timeout + Duration::from_secs(5)).as_millis() as i64;
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        let mut sending = JoinSet::new();
        while !*stop.borrow() {
            let free = slots.available_permits();
            let now = now_ms();
            if free > 0 && self.store.webhooks_due(now).await.unwrap_or(true) {
                match self.store.claim_webhooks(now, now + lease, free as i64).await {
                    Ok(claimed) => {
                        for delivery in claimed {
                            let Ok(permit) = slots.clone().acquire_owned().await else { break };
                            let svc = self.clone();
                            sending.spawn(async move {
                                svc.deliver(delivery).await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not read the webhook outbox"),
                }
            }
            while sending.try_join_next().is_some() {}
            tokio::select! {
                _ = queued.notified() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
                Some(_) = sending.join_next(), if !sending.is_empty() => {}
            }
        }
        while sending.join_next().await.is_some() {}
    }

    /// One attempt of one delivery, and its outcome recorded.
    async fn deliver(&self, d: ClaimedDelivery) {
        let host = url::Url::parse(&d.url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
        let sent = match self.store.webhook_secret(&d.client_id).await {
            Err(e) => {
                // The claim's lease brings it back.
                tracing::warn!(error = %e, event_id = %d.event_id, "could not read a webhook's signing secret");
                return;
            }
            Ok(None) => Err(SendError::Refused("the client has no signing secret".into())),
            Ok(Some(secret)) => {
                let timestamp = now_ms().div_euclid(1000);
                let signature = secret.sign(&d.event_id, timestamp, &d.payload);
                let timestamp = timestamp.to_string();
                let headers = [
                    ("webhook-id", d.event_id.as_str()),
                    ("webhook-timestamp", timestamp.as_str()),
                    ("webhook-signature", signature.as_str()),
                ];
                self.webhook_sender.post(&d.url, &headers, d.payload.clone()).await
            }
        };
        let now = now_ms();
        let (status, error) = match sent {
            Ok(status) if (200..300).contains(&status) => {
                tracing::info!(
                    event_id = %d.event_id, event = %d.event, client_id = %d.client_id, %host,
                    attempt = d.attempts, status, "webhook delivered"
                );
                self.record_attempt(&d, now, AttemptOutcome::Delivered { status }).await;
                crate::telemetry::count("tachi_webhook_deliveries_total", "delivered");
                return;
            }
            Ok(status) => (Some(status), format!("answered {status}")),
            Err(SendError::Refused(why)) => {
                tracing::error!(
                    event_id = %d.event_id, event = %d.event, client_id = %d.client_id, %host,
                    attempt = d.attempts, reason = %why, "webhook refused; giving up"
                );
                self.record_attempt(&d, now, AttemptOutcome::Failed { status: None, error: &why }).await;
                crate::telemetry::count("tachi_webhook_deliveries_total", "refused");
                return;
            }
            Err(SendError::Failed(why)) => (None, why),
        };
        let wait = backoff(self.settings.webhooks.retry_base, d.attempts, MAX_BACKOFF);
        let next = now + wait.as_millis() as i64;
        let horizon = d.created_at + self.settings.webhooks.retry_horizon.as_millis() as i64;
        if next > horizon {
            tracing::error!(
                event_id = %d.event_id, event = %d.event, client_id = %d.client_id, %host,
                attempts = d.attempts, last_error = %error, "webhook not delivered; giving up"
            );
            self.record_attempt(&d, now, AttemptOutcome::Failed { status, error: &error }).await;
            crate::telemetry::count("tachi_webhook_deliveries_total", "given_up");
        } else {
            tracing::warn!(
                event_id = %d.event_id, event = %d.event, client_id = %d.client_id, %host,
                attempt = d.attempts, retry_in_ms = wait.as_millis() as u64, error = %error,
                "webhook not delivered; will try again"
            );
            self.record_attempt(&d, now, AttemptOutcome::Retry { at: next, status, error: &error }).await;
            crate::telemetry::count("tachi_webhook_deliveries_total", "retried");
        }
    }

    async fn record_attempt(&self, d: &ClaimedDelivery, now: i64, outcome: AttemptOutcome<'_>) {
        if let Err(e) = self.store.record_webhook_attempt(d.id, d.attempts, now, outcome).await {
            // The claim's lease brings it back: sent again, never lost.
            tracing::warn!(error = %e, event_id = %d.event_id, "could not record a webhook attempt");
        }
    }
}
