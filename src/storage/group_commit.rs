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

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

pub(super) use approvals::Approval;
pub(super) use pending::PendingWrite;
pub(super) use redemptions::Exchange;

use super::{Store, StoreError, StoreResult};

/// At most this many writes share a transaction (at most 9 bound values per
/// write: far below either engine's limit on parameters).
const MAX_BATCH: usize = 256;

/// A write that can be settled in a batch with others of its kind.
pub(super) trait Batched: Send + Sized + 'static {
    /// Settles the batch and answers each job (after the commit, or with
    /// what the job needs to be settled alone).
    fn settle(store: &Store, jobs: Vec<Self>) -> impl Future<Output = ()> + Send;
}

/// Hands a job to its batch task (`tasks`, `None` in a task's own copy of
/// the store) and waits for the answer, sent after the batch's commit.
/// `None`: there is no task to take it; the caller settles it alone.
pub(super) async fn submit<J: Batched, T>(
    tasks: Option<&mpsc::Sender<J>>,
    job: impl FnOnce(oneshot::Sender<StoreResult<T>>) -> J,
) -> Option<StoreResult<T>> {
    let (reply, answer) = oneshot::channel();
    tasks?.send(job(reply)).await.ok()?;
    Some(answer.await.unwrap_or(Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed))))
}

/// Starts the task that settles jobs of kind `J`; it ends when the last
/// sender (the last clone of the `Store` that owns it) is gone. `store` is
/// the task's own copy, whose own senders are `None`: it settles directly.
pub(super) fn start<J: Batched>(store: Store) -> mpsc::Sender<J> {
    let (tx, mut rx) = mpsc::channel::<J>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
            J::settle(&store, std::mem::take(&mut jobs)).await;
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use crate::domain::{Client as ClientRecord, NewAuthCode, NewUser, PendingRequest, RequestId};
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
        let client = ClientRecord {
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
            created_at: 0,
        };
        assert!(store.insert_client_capped(&client, None).await.unwrap());
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
