//! Token exchanges waiting at the same moment, redeemed in one transaction.
//!
//! An exchange is a write (the code is used up, the key inserted) that must be
//! durable before its answer. One transaction per exchange spends most of its
//! time on round trips and commits; here a batch costs the same statements
//! however many exchanges it holds: one `UPDATE … FROM (VALUES …) RETURNING`
//! that claims every code, one multi-row `INSERT` of the keys, inside `BEGIN`
//! and `COMMIT` (on SQLite, sent as two calls, not four). Between the two,
//! each claimed code is judged by the domain's rule (`exchange::check`), once.
//! Every reply is sent after `COMMIT` returned, so a 200 still means committed.
//!
//! Only the common case is batched: a live code, presented for the first time
//! in the batch. Anything else (an unknown, expired or used code, the second
//! copy of a code in one batch, a batch that failed) is settled alone after
//! the batch (`Store::redeem_code_alone`), with the exact single-use and
//! replay rules.

use std::collections::HashMap;
use std::fmt::Write;

use super::Batched;
use crate::domain::exchange::{self, AuthCode};
use crate::domain::{NewApiKey, SecretHash};
use crate::storage::codes::RedemptionAttempt;
use crate::storage::records::{AUTH_CODE_COLUMNS, AuthCodeRow, NEW_KEY_COLUMNS, bind_new_key};
use crate::storage::{Params, Pool, Redemption, Store, StoreError, StoreResult, push_placeholders, write_transaction};

/// One token exchange.
pub(in crate::storage) struct Exchange(pub RedemptionAttempt);

impl Batched for Exchange {
    const KIND: &'static str = "token_exchange";

    type Output = Redemption;
    type Key = SecretHash;

    fn key(&self) -> SecretHash {
        self.0.code
    }

    async fn alone(&self, store: &Store) -> StoreResult<Redemption> {
        store.redeem_code_alone(&self.0).await
    }

    async fn batch(store: &Store, jobs: &[Exchange]) -> StoreResult<Vec<Option<Redemption>>> {
        redeem_batch(store, jobs).await
    }
}

async fn redeem_batch(store: &Store, jobs: &[Exchange]) -> Result<Vec<Option<Redemption>>, StoreError> {
    let now = jobs.iter().map(|j| j.0.now).max().unwrap_or_default();
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
            q = q.bind(j.0.code.as_bytes()).bind(j.0.client_id.as_str()).bind(j.0.key_id.as_str());
        }
        if sqlite {
            q = q.bind(now);
        }
        let consumed = q.fetch_all(&mut *db).await?;
        let (mut settled, keys) = judge_all(jobs, consumed);
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
            for (_, k) in &keys {
                q = bind_new_key!(q, k);
            }
            q.execute(&mut *db).await?;
        }
        for (i, key) in keys {
            settled[i] = Some(Redemption::Issued(key.into_record()));
        }
        Ok::<_, StoreError>(settled)
    })
}

/// Judges each claimed code once: the refusals the batch settles, and the
/// keys to insert with the position of the job each answers.
fn judge_all(jobs: &[Exchange], consumed: Vec<ConsumedRow>) -> (Vec<Option<Redemption>>, Vec<(usize, NewApiKey)>) {
    // The batch holds each code once (see `group_commit::settle`), and
    // claimed it only for the client of that job.
    let position: HashMap<SecretHash, usize> = jobs.iter().enumerate().map(|(i, j)| (j.0.code, i)).collect();
    let mut settled: Vec<Option<Redemption>> = std::iter::repeat_with(|| None).take(jobs.len()).collect();
    let mut keys = Vec::with_capacity(consumed.len());
    for row in consumed {
        let Some(&i) = SecretHash::from_bytes(&row.code_hash).and_then(|code| position.get(&code)) else {
            continue;
        };
        let code = AuthCode::from(row.code);
        let attempt = &jobs[i].0;
        match exchange::check(&code, &attempt.presented()) {
            Ok(()) => keys.push((i, attempt.key_for(&code))),
            Err(refusal) => settled[i] = Some(Redemption::Refused(refusal)),
        }
    }
    (settled, keys)
}

#[derive(sqlx::FromRow)]
struct ConsumedRow {
    code_hash: Vec<u8>,
    #[sqlx(flatten)]
    code: AuthCodeRow,
}
