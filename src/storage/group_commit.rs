//! Group commit: writes of one kind waiting at the same moment share one
//! transaction, made by one task per kind.
//!
//! On SQLite each write otherwise takes its own turn on the one writer
//! connection, with its own `BEGIN`, hand-offs to that connection's thread and
//! `COMMIT`; on PostgreSQL, its own round trips. A batch costs a few
//! statements however many writes it holds, and every caller is answered only
//! after its batch's `COMMIT` returned, so an answer still means committed.
//!
//! - `redemptions`: token exchanges (a code used up, a key issued).
//! - `approvals`: create-code (a pending request taken, its code inserted).
//! - `pending`: the consent page's record of the request it shows.

mod approvals;
mod pending;
mod redemptions;

use std::collections::HashSet;
use std::future::Future;
use std::hash::Hash;

use tokio::sync::{mpsc, oneshot};

pub(super) use approvals::Approval;
pub(super) use pending::PendingWrite;
pub(super) use redemptions::Exchange;

use super::{Store, StoreError, StoreResult};

/// At most this many writes share a transaction (at most 9 bound values per
/// write: far below either engine's limit on parameters).
const MAX_BATCH: usize = 256;

/// A write that can be settled in a batch with others of its kind.
pub(super) trait Batched: Send + Sync + Sized + 'static {
    /// The `kind` label of the batch metrics.
    const KIND: &'static str;
    /// What the write's caller is answered.
    type Output: Send + 'static;
    /// Two writes with the same key are never in one batch: the second is
    /// settled alone, after the batch, and meets what the first did.
    type Key: Hash + Eq + Send;

    fn key(&self) -> Self::Key;

    /// The write in its own transaction: what defines the rule. Used for
    /// whatever a batch leaves, and when there is no batch task.
    fn alone(&self, store: &Store) -> impl Future<Output = StoreResult<Self::Output>> + Send;

    /// Every write of `writes` in one transaction (each key once), committed
    /// before this returns. For each write, its answer, or `None` for one
    /// the batch cannot settle with certainty, which is then settled alone.
    fn batch(store: &Store, writes: &[Self]) -> impl Future<Output = StoreResult<Vec<Option<Self::Output>>>> + Send;
}

/// A write waiting for its batch, and where its answer goes.
pub(super) struct Job<W: Batched> {
    write: W,
    reply: oneshot::Sender<StoreResult<W::Output>>,
}

/// The sender of a kind's batch task.
pub(super) type Tasks<W> = mpsc::Sender<Job<W>>;

/// Settles `write` in a batch of its kind (`tasks`: its batch task, `None` in
/// a task's own copy of the store) and answers after that batch's commit;
/// without a task, alone.
pub(super) async fn submit<W: Batched>(store: &Store, tasks: Option<&Tasks<W>>, write: W) -> StoreResult<W::Output> {
    let Some(tasks) = tasks else { return write.alone(store).await };
    let (reply, answer) = oneshot::channel();
    match tasks.send(Job { write, reply }).await {
        Ok(()) => answer.await.unwrap_or(Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed))),
        Err(mpsc::error::SendError(job)) => job.write.alone(store).await,
    }
}

/// Starts the task that settles writes of kind `W`; it ends when the last
/// sender (the last clone of the `Store` that owns it) is gone. `store` is
/// the task's own copy, whose own senders are `None`: it settles directly.
pub(super) fn start<W: Batched>(store: Store) -> Tasks<W> {
    let (tx, mut rx) = mpsc::channel::<Job<W>>(4 * MAX_BATCH);
    let metrics = crate::telemetry::BatchMetrics::new(W::KIND);
    tokio::spawn(async move {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
            settle(&store, std::mem::take(&mut jobs), metrics.as_ref()).await;
        }
    });
    tx
}

/// One batch: the first write of each key together, then, alone and in
/// order, every write the batch left (a second write of a key, a write the
/// batch could not settle, every write of a batch that failed).
async fn settle<W: Batched>(store: &Store, jobs: Vec<Job<W>>, metrics: Option<&crate::telemetry::BatchMetrics>) {
    let (batched, mut alone): (Vec<Job<W>>, Vec<Job<W>>) = {
        let mut seen = HashSet::with_capacity(jobs.len());
        jobs.into_iter().partition(|j| seen.insert(j.write.key()))
    };
    if !batched.is_empty() {
        let (writes, replies): (Vec<W>, Vec<_>) = batched.into_iter().map(|j| (j.write, j.reply)).unzip();
        let started = std::time::Instant::now();
        let outcome = W::batch(store, &writes).await;
        if let (Some(metrics), Ok(_)) = (metrics, &outcome) {
            metrics.record(writes.len(), started.elapsed());
        }
        match &outcome {
            Ok(_) => tracing::debug!(
                kind = std::any::type_name::<W>(),
                writes = writes.len(),
                elapsed_us = started.elapsed().as_micros() as u64,
                "batch settled"
            ),
            Err(e) => tracing::debug!(
                kind = std::any::type_name::<W>(),
                writes = writes.len(),
                error = %e,
                "batch failed; settling each write alone"
            ),
        }
        let mut outcomes = outcome.unwrap_or_default().into_iter();
        let mut left = Vec::new();
        for (write, reply) in writes.into_iter().zip(replies) {
            match outcomes.next().flatten() {
                Some(answer) => {
                    let _ = reply.send(Ok(answer));
                }
                None => left.push(Job { write, reply }),
            }
        }
        alone.splice(0..0, left);
    }
    for job in alone {
        let _ = job.reply.send(job.write.alone(store).await);
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{Client, NewAuthCode, NewUser, PendingRequest, RequestId};
    use crate::domain::{PermissionSet, SecretHash};
    use crate::storage::Store;

    /// A store on a fresh SQLite file, with one user, one session and one client.
    async fn store_with_a_session() -> (tempfile::TempDir, Store, SecretHash, i64) {
        let (dir, store) = Store::sqlite_for_tests().await;
        let user = NewUser {
            username: "p",
            username_key: "p",
            username_skeleton: "p",
            email: "p@example.com",
            password_hash: "x",
            created_at: 0,
        };
        let user_id = store.insert_user(&user).await.unwrap();
        let session = SecretHash::from_bytes(&[1; 32]).unwrap();
        store.insert_session(&session, user_id, 0, i64::MAX, 10).await.unwrap();
        let client = Client {
            client_id: "CI1".into(),
            secret_hash: SecretHash::from_bytes(&[2; 32]).unwrap(),
            name: "c".into(),
            author_id: Some(user_id),
            redirect_uri: Some("https://example.com/cb".into()),
            webhook_uri: None,
            permissions: PermissionSet::from_bits(1),
            api_key_format: None,
            api_key_filename: None,
            require_pkce: false,
            public: false,
            grants: crate::domain::client::Grants::DEFAULT,
            created_at: 0,
        };
        assert!(store.insert_client_capped(&client, None, None).await.unwrap());
        (dir, store, session, user_id)
    }

    fn request(id: u8, state: &str) -> PendingRequest {
        PendingRequest {
            id: RequestId::from_bytes(&[id; 32]).unwrap(),
            client_id: "CI1".into(),
            redirect_uri: "https://example.com/cb".into(),
            permissions: PermissionSet::from_bits(1),
            state: Some(state.into()),
            code_challenge: None,
            context: None,
            standard: false,
            created_at: 1,
        }
    }

    /// Two requests of the same session and client that land in one batch
    /// (on this single-threaded runtime both are queued before the batch
    /// task runs) are two pending requests; each approval takes the one it
    /// names, and of two approvals of one request exactly one takes it.
    #[tokio::test]
    async fn in_one_batch_each_request_is_kept_and_one_approval_takes_each() {
        let (_dir, store, session, user_id) = store_with_a_session().await;
        let (narrow, broad) = (request(1, "first"), request(2, "second"));
        let (first, second) =
            tokio::join!(store.put_pending_request(&session, &narrow), store.put_pending_request(&session, &broad));
        first.unwrap();
        second.unwrap();
        let code = |n: u8| NewAuthCode {
            code_hash: SecretHash::from_bytes(&[n; 32]).unwrap(),
            user_id,
            created_at: 1,
            expires_at: i64::MAX,
        };
        let (a, b) = tokio::join!(
            store.approve_pending_request(&session, narrow.id, 0, code(3)),
            store.approve_pending_request(&session, narrow.id, 0, code(4)),
        );
        let taken: Vec<PendingRequest> = [a.unwrap(), b.unwrap()].into_iter().flatten().collect();
        assert_eq!(taken.len(), 1, "a request approves one code");
        assert_eq!(taken[0].state.as_deref(), Some("first"), "the approval takes the request it names");
        let again = store.approve_pending_request(&session, narrow.id, 0, code(5)).await.unwrap();
        assert!(again.is_none(), "and then it is gone");
        let other = store.approve_pending_request(&session, broad.id, 0, code(6)).await.unwrap();
        assert_eq!(other.and_then(|r| r.state).as_deref(), Some("second"), "the other request is still pending");
    }
}
