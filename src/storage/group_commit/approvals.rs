//! Approvals (create-code) waiting at the same moment, settled in one
//! transaction: one `DELETE … RETURNING` takes every pending request, one
//! multi-row `INSERT` creates their codes (on SQLite, two calls in all).
//!
//! Each approval keeps the rule of `Store::approve_pending_request_alone`: a
//! request approves at most one code, and a code never exists without the
//! approval behind it. Only the first approval of a request in a batch is
//! batched; a second one, and every approval of a batch that
//! failed, is settled alone after it.
//!
//! An approval names the pending request by its id, and must come from the
//! session the request was shown to.

use std::collections::HashMap;
use std::fmt::Write;

use super::Batched;
use crate::domain::{NewAuthCode, PendingRequest, RequestId, SecretHash};
use crate::storage::records::{AUTH_CODE_INSERT, AUTH_CODE_WIDTH, PENDING_COLUMNS, PendingRow, bind_new_code};
use crate::storage::{Params, Pool, Store, StoreError, StoreResult, push_placeholders, write_transaction};

/// One create-code. Answered `None` when there is no live pending request
/// by that id for that session.
pub(in crate::storage) struct Approval {
    pub session: SecretHash,
    pub id: RequestId,
    /// Only a request created after this time (ms) may be approved.
    pub newer_than: i64,
    pub code: NewAuthCode,
}

impl Batched for Approval {
    const KIND: &'static str = "approval";

    type Output = Option<PendingRequest>;
    type Key = RequestId;

    fn key(&self) -> RequestId {
        self.id
    }

    async fn alone(&self, store: &Store) -> StoreResult<Option<PendingRequest>> {
        store.approve_pending_request_alone(&self.session, self.id, self.newer_than, &self.code).await
    }

    /// Every approval is settled: a request not taken is not live.
    async fn batch(store: &Store, jobs: &[Approval]) -> StoreResult<Vec<Option<Option<PendingRequest>>>> {
        Ok(approve_batch(store, jobs).await?.into_iter().map(Some).collect())
    }
}

/// The request each job took (in the jobs' order; `None`: nothing live to
/// take), committed.
async fn approve_batch(store: &Store, jobs: &[Approval]) -> Result<Vec<Option<PendingRequest>>, StoreError> {
    // The strictest bound of the batch: every request is judged at the
    // batch's moment, as the redemptions judge codes.
    let newer_than = jobs.iter().map(|j| j.newer_than).max().unwrap_or_default();
    let sqlite = matches!(store.pool, Pool::Sqlite(..));
    let params = Params::for_engine(&store.pool, 1);
    let mut take = String::from(if sqlite { "BEGIN IMMEDIATE; " } else { "" });
    if sqlite {
        // SQLite's DELETE has no USING, and a row-value IN scans the
        // table: the join by primary key, then delete by rowid.
        take.push_str("DELETE FROM auth_requests WHERE rowid IN (SELECT r.rowid FROM (VALUES ");
        push_placeholders(&mut take, params, jobs.len(), 2);
        take.push_str(
            ") AS v JOIN auth_requests AS r ON r.request_id = v.column1 AND r.session_hash = v.column2 \
             WHERE r.created_at > ?)",
        );
    } else {
        take.push_str("DELETE FROM auth_requests AS r USING (VALUES ");
        push_placeholders(&mut take, params, jobs.len(), 2);
        let _ = write!(
            take,
            ") AS v WHERE r.request_id = v.column1 AND r.session_hash = v.column2 AND r.created_at > ${}",
            2 * jobs.len() + 1
        );
    }
    let _ = write!(take, " RETURNING {PENDING_COLUMNS}");

    write_transaction!(store, committed: Result::is_ok, db => {
        let mut q = sqlx::query_as::<_, PendingRow>(&take);
        for j in jobs {
            q = q.bind(j.id.as_bytes()).bind(j.session.as_bytes());
        }
        let rows = q.bind(newer_than).fetch_all(&mut *db).await?;
        let taken = match_rows(jobs, rows);
        let mut insert = String::new();
        let count = taken.iter().flatten().count();
        if count > 0 {
            insert.push_str(AUTH_CODE_INSERT);
            push_placeholders(&mut insert, params, count, AUTH_CODE_WIDTH);
        }
        if sqlite {
            insert.push_str(if count == 0 { "COMMIT" } else { "; COMMIT" });
        }
        if !insert.is_empty() {
            let mut q = sqlx::query(&insert);
            for (job, request) in jobs.iter().zip(&taken) {
                if let Some(request) = request {
                    q = bind_new_code!(q, job.code, request);
                }
            }
            q.execute(&mut *db).await?;
        }
        Ok::<_, StoreError>(taken)
    })
}

/// Gives each taken request to the job that asked for it. The batch holds
/// each request id once (see `settle`).
fn match_rows(jobs: &[Approval], rows: Vec<PendingRow>) -> Vec<Option<PendingRequest>> {
    let position: HashMap<RequestId, usize> = jobs.iter().enumerate().map(|(i, j)| (j.id, i)).collect();
    let mut taken: Vec<Option<PendingRequest>> = std::iter::repeat_with(|| None).take(jobs.len()).collect();
    for row in rows {
        let request = PendingRequest::from(row);
        if let Some(&i) = position.get(&request.id) {
            taken[i] = Some(request);
        }
    }
    taken
}
