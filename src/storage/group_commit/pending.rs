//! Pending requests the consent page records at the same moment, written by
//! one multi-row `INSERT … ON CONFLICT DO UPDATE` (one statement is its own
//! transaction on both engines).
//!
//! Only the first write of a request id in a batch is batched (one statement
//! may not update a row twice on PostgreSQL); a second one, and every write
//! of a batch that failed, is written alone after it, as it would have been
//! one by one.

use std::collections::HashSet;

use tokio::sync::oneshot;

use super::Batched;
use crate::domain::{PendingRequest, SecretHash};
use crate::storage::records::{PENDING_INSERT, PENDING_UPSERT, PENDING_WIDTH, bind_pending};
use crate::storage::{Params, Store, StoreResult, on_writer, push_placeholders};

/// One consent page's request waiting for its batch.
pub(in crate::storage) struct PendingWrite {
    pub session: SecretHash,
    pub request: PendingRequest,
    pub reply: oneshot::Sender<StoreResult<()>>,
}

impl Batched for PendingWrite {
    async fn settle(store: &Store, jobs: Vec<PendingWrite>) {
        let mut seen = HashSet::with_capacity(jobs.len());
        let (batched, mut alone): (Vec<PendingWrite>, Vec<PendingWrite>) =
            jobs.into_iter().partition(|j| seen.insert(j.request.id));
        if !batched.is_empty() {
            match write_batch(store, &batched).await {
                Ok(()) => {
                    for job in batched {
                        let _ = job.reply.send(Ok(()));
                    }
                }
                Err(e) => {
                    tracing::debug!(requests = batched.len(), error = %e, "pending-request batch failed; writing each alone");
                    alone.splice(0..0, batched);
                }
            }
        }
        for job in alone {
            let _ = job.reply.send(store.put_pending_request_alone(&job.session, &job.request).await);
        }
    }
}

async fn write_batch(store: &Store, jobs: &[PendingWrite]) -> StoreResult<()> {
    let mut sql = String::from(PENDING_INSERT);
    push_placeholders(&mut sql, Params::for_engine(&store.pool, 1), jobs.len(), PENDING_WIDTH);
    sql.push_str(PENDING_UPSERT);
    on_writer!(store, db => {
        let mut q = sqlx::query(&sql);
        for j in jobs {
            q = bind_pending!(q, j.session, j.request);
        }
        q.execute(&mut *db).await?;
        Ok(())
    })
}
