//! Pending requests the consent page records at the same moment, written by
//! one multi-row `INSERT … ON CONFLICT DO UPDATE` (one statement is its own
//! transaction on both engines).
//!
//! Only the first write of a request id in a batch is batched (one statement
//! may not update a row twice on PostgreSQL); a second one, and every write
//! of a batch that failed, is written alone after it, as it would have been
//! one by one.

use super::Batched;
use crate::domain::{PendingRequest, SecretHash};
use crate::storage::records::{PENDING_INSERT, PENDING_UPSERT, PENDING_WIDTH, bind_pending};
use crate::storage::{Params, Store, StoreResult, on_writer, push_placeholders};

/// One consent page's request.
pub(in crate::storage) struct PendingWrite {
    pub session: SecretHash,
    pub request: PendingRequest,
}

impl Batched for PendingWrite {
    const KIND: &'static str = "pending_request";

    type Output = ();
    type Key = crate::domain::RequestId;

    fn key(&self) -> Self::Key {
        self.request.id
    }

    async fn alone(&self, store: &Store) -> StoreResult<()> {
        store.put_pending_request_alone(&self.session, &self.request).await
    }

    async fn batch(store: &Store, writes: &[PendingWrite]) -> StoreResult<Vec<Option<()>>> {
        write_batch(store, writes).await?;
        Ok(vec![Some(()); writes.len()])
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
