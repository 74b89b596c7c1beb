//! Token exchanges waiting at the same moment, redeemed in one transaction.
//!
//! An exchange is a write (the code is used up, the key inserted) that must be
//! durable before its answer. One transaction per exchange spends most of its
//! time on round trips and commits; here a batch costs the same statements
//! however many exchanges it holds: one `UPDATE … FROM (VALUES …) RETURNING`
//! that claims every code, one multi-row `INSERT` of the keys, inside `BEGIN`
//! and `COMMIT` (on SQLite, sent as two calls, not four). Every reply is sent
//! after `COMMIT` returned, so a 200 still means committed.
//!
//! Only the common case is batched: a live code, presented for the first time
//! in the batch. Anything else (an unknown, expired or used code, the second
//! copy of a code in one batch, a batch that failed) is handed back to its
//! caller, which settles it alone (`Store::redeem_code_alone`) with the exact
//! single-use and replay rules.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use tokio::sync::oneshot;

use super::Batched;
use crate::domain::{AuthCode as AuthCodeRecord, NewApiKey, SecretHash};
use crate::storage::codes::RedeemDecision;
use crate::storage::records::{AUTH_CODE_COLUMNS, AuthCodeRow, NEW_KEY_COLUMNS, bind_new_key};
use crate::storage::{Params, Pool, Redemption, Store, StoreError, push_placeholders, write_transaction};

/// One token exchange waiting for its batch.
pub(in crate::storage) struct Exchange {
    pub code: SecretHash,
    pub client_id: String,
    /// The id of the key `decide` makes, recorded on the code.
    pub key_id: String,
    pub now: i64,
    pub decide: RedeemDecision,
    /// `Err` hands the job back: settle it alone.
    pub reply: oneshot::Sender<Result<Redemption, RedeemDecision>>,
}

impl Batched for Exchange {
    async fn settle(store: &Store, jobs: Vec<Exchange>) {
        // The first job of each code is batched; later copies go alone, where
        // they meet the used code (a replay) as they should.
        let mut seen = HashSet::with_capacity(jobs.len());
        let (batched, alone): (Vec<Exchange>, Vec<Exchange>) = jobs.into_iter().partition(|j| seen.insert(j.code));
        for job in alone {
            let _ = job.reply.send(Err(job.decide));
        }
        if batched.is_empty() {
            return;
        }
        let started = std::time::Instant::now();
        let outcomes = redeem_batch(store, &batched).await;
        tracing::debug!(
            exchanges = batched.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            ok = outcomes.is_ok(),
            "batch settled"
        );
        let mut outcomes = outcomes.unwrap_or_default().into_iter();
        for job in batched {
            // A code the batch did not use up (unknown, expired, used), or a
            // batch that failed: settled alone, with the exact rules.
            let outcome = outcomes.next().flatten();
            let _ = job.reply.send(outcome.ok_or(job.decide));
        }
    }
}

/// What the batch settled for each of its jobs, in their order (`None`: left
/// for the job to settle alone).
type Settled = Vec<Option<Redemption>>;

async fn redeem_batch(store: &Store, jobs: &[Exchange]) -> Result<Settled, StoreError> {
    let now = jobs.iter().map(|j| j.now).max().unwrap_or_default();
    // On SQLite the claim opens the transaction and the insert commits it
    // (see `write_transaction!`).
    let sqlite = matches!(store.pool, Pool::Sqlite(..));
    let open = if sqlite { "BEGIN IMMEDIATE; " } else { "" };

    // Both engines walk the few VALUES rows and find each code by its primary
    // key; a code stays bound to the client that presents it. (`columnN` is
    // what both name the columns of a bare VALUES list. The unary `+` keeps
    // SQLite from scanning every live code through the expiry index instead.)
    // `now` is bound first and last: `$1` twice for PostgreSQL, `?` twice for SQLite.
    let (now_first, now_last) = if sqlite { ("?", "?") } else { ("$1", "$1") };
    let mut claim = format!("{open}UPDATE auth_codes SET used_at = {now_first}, key_id = v.column3 FROM (VALUES ");
    push_placeholders(&mut claim, Params::for_engine(&store.pool, 2), jobs.len(), 3);
    let _ = write!(
        claim,
        ") AS v WHERE auth_codes.code_hash = v.column1 AND auth_codes.client_id = v.column2 \
         AND used_at IS NULL AND +expires_at > {now_last} RETURNING {AUTH_CODE_COLUMNS}, code_hash"
    );

    write_transaction!(store, committed: Result::is_ok, db => {
        let mut q = sqlx::query_as::<_, ConsumedRow>(&claim).bind(now);
        for j in jobs {
            q = q.bind(j.code.as_bytes()).bind(j.client_id.as_str()).bind(j.key_id.as_str());
        }
        if sqlite {
            q = q.bind(now);
        }
        let consumed = q.fetch_all(&mut *db).await?;
        let (settled, keys) = decide_all(jobs, consumed);
        // The keys' INSERT, then (on SQLite) the COMMIT; either may be absent.
        let mut statement = String::new();
        if !keys.is_empty() {
            statement = format!("INSERT INTO api_keys ({NEW_KEY_COLUMNS}) VALUES ");
            push_placeholders(
                &mut statement,
                Params::for_engine(&store.pool, 1),
                keys.len(),
                NEW_KEY_COLUMNS.split(',').count(),
            );
        }
        if sqlite {
            statement.push_str(if keys.is_empty() { "COMMIT" } else { "; COMMIT" });
        }
        if !statement.is_empty() {
            let mut q = sqlx::query(&statement);
            for k in &keys {
                q = bind_new_key!(q, k);
            }
            q.execute(&mut *db).await?;
        }
        Ok::<_, StoreError>(settled)
    })
}

/// Runs each consumed code's decision: what the batch settles for each job,
/// and the keys to insert.
fn decide_all(jobs: &[Exchange], consumed: Vec<ConsumedRow>) -> (Settled, Vec<NewApiKey>) {
    // The batch holds each code once (see `settle`), and claimed it only for
    // the client of that job.
    let position: HashMap<SecretHash, usize> = jobs.iter().enumerate().map(|(i, j)| (j.code, i)).collect();
    let mut settled: Settled = std::iter::repeat_with(|| None).take(jobs.len()).collect();
    let mut keys: Vec<NewApiKey> = Vec::with_capacity(consumed.len());
    for row in consumed {
        let Some(&i) = SecretHash::from_bytes(&row.code_hash).and_then(|code| position.get(&code)) else {
            continue;
        };
        let record = AuthCodeRecord::from(row.code);
        let job = &jobs[i];
        settled[i] = Some(match (job.decide)(&record) {
            Some(key) => {
                debug_assert_eq!(key.id, job.key_id, "the key has the id its code recorded");
                let issued = key.clone().into_record();
                keys.push(key);
                Redemption::Issued { code: record, key: issued }
            }
            None => Redemption::Refused(record),
        });
    }
    (settled, keys)
}

#[derive(sqlx::FromRow)]
struct ConsumedRow {
    code_hash: Vec<u8>,
    #[sqlx(flatten)]
    code: AuthCodeRow,
}
