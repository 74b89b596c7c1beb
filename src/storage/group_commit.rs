//! Group commit of code redemptions: the token exchanges waiting at the same
//! moment are settled in one transaction, by one writer task.
//!
//! An exchange is a write (the code is used up, the key inserted) that must be
//! durable before its answer. One transaction per exchange spends most of its
//! time on round trips and commits; here a batch costs four statements
//! (`BEGIN`, one `UPDATE … RETURNING` for every code, one multi-row `INSERT`
//! of the keys, `COMMIT`) however many exchanges it holds. Every reply is sent
//! after `COMMIT` returned, so a 200 still means committed.
//!
//! Only the common case is batched: a live code, presented for the first time
//! in the batch. Anything else (an unknown, expired or used code, the second
//! copy of a code in one batch, a batch that failed) is handed back to its
//! caller, which settles it alone (`Store::redeem_code_alone`) with the exact
//! single-use and replay rules.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use tokio::sync::{mpsc, oneshot};

use super::codes::RedeemDecision;
use super::records::{AUTH_CODE_COLUMNS, AuthCodeRow, NEW_KEY_COLUMNS, bind_new_key};
use super::{AuthCodeRecord, NewApiKey, Redemption, Store, StoreError, on_pool};
use crate::domain::SecretHash;

/// At most this many exchanges share a transaction (8 bound values per key:
/// far below either engine's limit on parameters).
const MAX_BATCH: usize = 256;

pub(super) struct Job {
    pub code: SecretHash,
    pub client_id: String,
    pub now: i64,
    pub decide: RedeemDecision,
    /// `Err` hands the job back: settle it alone.
    pub reply: oneshot::Sender<Result<Redemption, RedeemDecision>>,
}

/// Starts the writer task; it ends when the last sender (the last clone of
/// the `Store` that owns it) is gone.
pub(super) fn start(store: Store) -> mpsc::Sender<Job> {
    let (tx, mut rx) = mpsc::channel::<Job>(4 * MAX_BATCH);
    tokio::spawn(async move {
        let mut jobs = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut jobs, MAX_BATCH).await > 0 {
            settle(&store, std::mem::take(&mut jobs)).await;
        }
    });
    tx
}

async fn settle(store: &Store, jobs: Vec<Job>) {
    // The first job of each (code, client) is batched; later copies go alone,
    // where they meet the used code (a replay) as they should.
    let mut seen = HashSet::with_capacity(jobs.len());
    let (batched, alone): (Vec<Job>, Vec<Job>) =
        jobs.into_iter().partition(|j| seen.insert((j.code, j.client_id.clone())));
    for job in alone {
        let _ = job.reply.send(Err(job.decide));
    }
    if batched.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let mut outcomes = redeem_batch(store, &batched).await;
    tracing::debug!(
        exchanges = batched.len(),
        elapsed_us = started.elapsed().as_micros() as u64,
        ok = outcomes.is_ok(),
        "batch settled"
    );
    for job in batched {
        let outcome = match &mut outcomes {
            Ok(settled) => settled.remove(&(job.code, job.client_id.clone())),
            Err(_) => None,
        };
        let _ = job.reply.send(outcome.ok_or(job.decide));
    }
}

/// The outcome of each code the batch used up (issued or refused).
type Settled = HashMap<(SecretHash, String), Redemption>;

async fn redeem_batch(store: &Store, jobs: &[Job]) -> Result<Settled, StoreError> {
    let now = jobs.iter().map(|j| j.now).max().unwrap_or_default();
    // `code_hash IN (…)` lets both engines use the primary key; the row-value
    // test then keeps a code bound to the client that presents it.
    let mut consume =
        String::from("UPDATE auth_codes SET used_at = $1 WHERE used_at IS NULL AND expires_at > $1 AND code_hash IN (");
    push_placeholders(&mut consume, 2, jobs.len(), 1);
    consume.push_str(") AND (code_hash, client_id) IN (VALUES ");
    push_placeholders(&mut consume, 2 + jobs.len(), jobs.len(), 2);
    let _ = write!(consume, ") RETURNING code_hash, {AUTH_CODE_COLUMNS}");

    let _turn = store.write_turn().await;
    on_pool!(store, p => {
        let mut tx = p.begin().await?;
        let mut q = sqlx::query_as::<_, ConsumedRow>(&consume).bind(now);
        for j in jobs {
            q = q.bind(j.code.as_bytes());
        }
        for j in jobs {
            q = q.bind(j.code.as_bytes()).bind(j.client_id.as_str());
        }
        let consumed = q.fetch_all(&mut *tx).await?;

        let by_code: HashMap<(SecretHash, String), &Job> =
            jobs.iter().map(|j| ((j.code, j.client_id.clone()), j)).collect();
        let mut settled = Settled::with_capacity(consumed.len());
        let mut keys: Vec<NewApiKey> = Vec::with_capacity(consumed.len());
        for row in consumed {
            let Some(code) = SecretHash::from_bytes(&row.code_hash) else { continue };
            let record = AuthCodeRecord::from(row.code);
            let Some(job) = by_code.get(&(code, record.client_id.clone())) else { continue };
            let outcome = match (job.decide)(&record) {
                Some(key) => {
                    let issued = key.clone().into_record();
                    keys.push(key);
                    Redemption::Issued { code: record, key: issued }
                }
                None => Redemption::Refused(record),
            };
            settled.insert((job.code, job.client_id.clone()), outcome);
        }
        if !keys.is_empty() {
            let mut insert = format!("INSERT INTO api_keys ({NEW_KEY_COLUMNS}) VALUES ");
            push_placeholders(&mut insert, 1, keys.len(), NEW_KEY_COLUMNS.split(',').count());
            let mut q = sqlx::query(&insert);
            for k in &keys {
                q = bind_new_key!(q, k);
            }
            q.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(settled)
    })
}

/// Appends `count` groups of `width` placeholders, numbered from `first`:
/// `$2, $3` (width 1) or `($2, $3), ($4, $5)` (width 2).
fn push_placeholders(sql: &mut String, first: usize, count: usize, width: usize) {
    for i in 0..count {
        if i > 0 {
            sql.push_str(", ");
        }
        let n = first + i * width;
        if width == 1 {
            let _ = write!(sql, "${n}");
        } else {
            sql.push('(');
            for w in 0..width {
                let _ = write!(sql, "{}${}", if w > 0 { ", " } else { "" }, n + w);
            }
            sql.push(')');
        }
    }
}

#[derive(sqlx::FromRow)]
struct ConsumedRow {
    code_hash: Vec<u8>,
    #[sqlx(flatten)]
    code: AuthCodeRow,
}
