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

use tokio::sync::mpsc;

pub(super) use approvals::Approval;
pub(super) use pending::PendingWrite;
pub(super) use redemptions::Exchange;

use super::Store;

/// At most this many writes share a transaction (at most 9 bound values per
/// write: far below either engine's limit on parameters).
const MAX_BATCH: usize = 256;

/// A write that can be settled in a batch with others of its kind.
pub(super) trait Batched: Send + Sized + 'static {
    /// Settles the batch and answers each job (after the commit, or with
    /// what the job needs to be settled alone).
    fn settle(store: &Store, jobs: Vec<Self>) -> impl Future<Output = ()> + Send;
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
