//! Pending authorization requests and authorization codes: the two halves of
//! the code flow, each consumed exactly once by a single atomic statement.

use tokio::sync::mpsc;

use super::group_commit::{self, Approval, Exchange, PendingWrite};
use super::records::{
    AUTH_CODE_COLUMNS, AUTH_CODE_INSERT, AUTH_CODE_WIDTH, AuthCodeRow, PENDING_COLUMNS, PENDING_INSERT, PENDING_UPSERT,
    PENDING_WIDTH, PendingRow, bind_new_code, bind_pending,
};
use super::{Store, StoreError, StoreResult, on_pool, on_writer, write_transaction};
use crate::domain::{
    ApiKey as ApiKeyRecord, AuthCode as AuthCodeRecord, NewApiKey, NewAuthCode, PendingRequest, RequestId, SecretHash,
};

/// Makes the key a consumed code is redeemed for, or refuses it (`None`: e.g.
/// a wrong PKCE verifier; the code is used up all the same). Called inside the
/// transaction, possibly more than once if a batch has to be retried alone.
/// The key it makes has the id given to [`Store::redeem_code`].
pub type RedeemDecision = Box<dyn Fn(&AuthCodeRecord) -> Option<NewApiKey> + Send + Sync>;

/// How an attempt to redeem a code ended.
#[derive(Debug)]
pub enum Redemption {
    /// The code was live and is now used; the key was issued in the same transaction.
    Issued { code: AuthCodeRecord, key: ApiKeyRecord },
    /// The code was live but the decision refused it (e.g. a wrong PKCE verifier);
    /// it is used up all the same.
    Refused(AuthCodeRecord),
    /// The code was already used; the keys issued from it have been revoked.
    Replayed,
    /// No live code by that hash for that client (unknown, expired or another client's).
    Invalid,
}

static PUT_ONE_PENDING: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let mut sql = String::from(PENDING_INSERT);
    super::push_placeholders(&mut sql, super::Params::From(1), 1, PENDING_WIDTH);
    sql + PENDING_UPSERT
});

impl Store {
    /// Records the request a session's consent screen shows (or, shown
    /// again, makes it younger).
    /// Requests shown at the same moment are written by one statement (see
    /// `group_commit`).
    pub async fn put_pending_request(&self, session: &SecretHash, request: &PendingRequest) -> StoreResult<()> {
        let job = |reply| PendingWrite { session: *session, request: request.clone(), reply };
        match group_commit::submit(self.recorder.as_ref(), job).await {
            Some(written) => written,
            None => self.put_pending_request_alone(session, request).await,
        }
    }

    /// One pending request, in its own statement.
    pub(super) async fn put_pending_request_alone(&self, session: &SecretHash, r: &PendingRequest) -> StoreResult<()> {
        let sql = PUT_ONE_PENDING.as_str();
        on_writer!(self, db => {
            bind_pending!(sqlx::query(sql), session, r).execute(&mut *db).await?;
            Ok(())
        })
    }

    /// The ids of a session's live pending requests (for `client_id`, if
    /// given), newest first, at most `limit`.
    pub async fn pending_request_ids(
        &self,
        session: &SecretHash,
        client_id: Option<&str>,
        newer_than: i64,
        limit: i64,
    ) -> StoreResult<Vec<RequestId>> {
        let sql = "SELECT request_id FROM auth_requests WHERE session_hash = $1 AND created_at > $2 \
                   AND ($3 IS NULL OR client_id = $3) ORDER BY created_at DESC LIMIT $4";
        let ids: Vec<Vec<u8>> = on_pool!(self, p => sqlx::query_scalar(sql)
            .bind(session.as_bytes())
            .bind(newer_than)
            .bind(client_id)
            .bind(limit)
            .fetch_all(p)
            .await?);
        Ok(ids.iter().filter_map(|id| RequestId::from_bytes(id)).collect())
    }

    /// Removes a pending request without answering it (the user declined).
    pub async fn drop_pending_request(
        &self,
        session: &SecretHash,
        id: RequestId,
    ) -> StoreResult<Option<PendingRequest>> {
        let sql = format!(
            "DELETE FROM auth_requests WHERE request_id = $1 AND session_hash = $2 RETURNING {PENDING_COLUMNS}"
        );
        on_writer!(self, db => Ok(sqlx::query_as::<_, PendingRow>(&sql)
            .bind(id.as_bytes())
            .bind(session.as_bytes())
            .fetch_optional(&mut *db)
            .await?
            .map(Into::into)))
    }

    /// Consumes a live pending request and creates its code, in one
    /// transaction: a request approves at most one code, and a code never
    /// exists without the approval behind it. Approvals waiting at the same
    /// moment share that transaction (see `group_commit`).
    pub async fn approve_pending_request(
        &self,
        session: &SecretHash,
        id: RequestId,
        newer_than: i64,
        code: NewAuthCode,
    ) -> StoreResult<Option<PendingRequest>> {
        let job = |reply| Approval { session: *session, id, newer_than, code, reply };
        match group_commit::submit(self.approver.as_ref(), job).await {
            Some(approved) => approved,
            None => self.approve_pending_request_alone(session, id, newer_than, &code).await,
        }
    }

    /// One approval in its own transaction.
    pub(super) async fn approve_pending_request_alone(
        &self,
        session: &SecretHash,
        id: RequestId,
        newer_than: i64,
        code: &NewAuthCode,
    ) -> StoreResult<Option<PendingRequest>> {
        // On SQLite the take opens the transaction and the insert commits it
        // (see `write_transaction!`).
        let sqlite = matches!(self.pool, super::Pool::Sqlite(..));
        let (open, close) = if sqlite { ("BEGIN IMMEDIATE; ", "; COMMIT") } else { ("", "") };
        let take = format!(
            "{open}DELETE FROM auth_requests WHERE request_id = $1 AND session_hash = $2 AND created_at > $3 RETURNING {PENDING_COLUMNS}"
        );
        let mut insert = String::from(AUTH_CODE_INSERT);
        super::push_placeholders(&mut insert, super::Params::From(1), 1, AUTH_CODE_WIDTH);
        insert.push_str(close);
        // `None` (nothing taken) ends before the COMMIT: rolled back.
        write_transaction!(self, committed: |o: &StoreResult<Option<_>>| matches!(o, Ok(Some(_))), db => {
            let taken = sqlx::query_as::<_, PendingRow>(&take)
                .bind(id.as_bytes())
                .bind(session.as_bytes())
                .bind(newer_than)
                .fetch_all(&mut *db)
                .await?;
            // The id is the table's primary key: one row at most.
            match taken.into_iter().next().map(PendingRequest::from) {
                None => Ok::<_, StoreError>(None),
                Some(request) => {
                    bind_new_code!(sqlx::query(&insert), code, request).execute(&mut *db).await?;
                    Ok(Some(request))
                }
            }
        })
    }

    /// Redeems a code for `client_id`: marks it used and, if `decide` makes a
    /// key of it, inserts that key, in the same transaction as other exchanges
    /// waiting at this moment (see `group_commit`). Anything but a first,
    /// live presentation is settled alone, by `redeem_code_alone`.
    ///
    /// `key_id` is the id of the key `decide` makes. The code records it
    /// (rather than the key recording its code): a replayed code finds the key
    /// to revoke by its primary key, and issuing a key does not have to write
    /// into an index of random code hashes.
    pub async fn redeem_code(
        &self,
        code: &SecretHash,
        client_id: &str,
        key_id: &str,
        now: i64,
        decide: RedeemDecision,
    ) -> StoreResult<Redemption> {
        let decide = match &self.redeemer {
            Some(redeemer) => {
                let (reply, answer) = tokio::sync::oneshot::channel();
                let job = Exchange {
                    code: *code,
                    client_id: client_id.to_owned(),
                    key_id: key_id.to_owned(),
                    now,
                    decide,
                    reply,
                };
                match redeemer.send(job).await {
                    Ok(()) => match answer.await {
                        Ok(Ok(settled)) => return Ok(settled),
                        Ok(Err(decide)) => decide,
                        Err(_) => return Err(StoreError::Unavailable(sqlx::Error::WorkerCrashed)),
                    },
                    Err(mpsc::error::SendError(job)) => job.decide,
                }
            }
            None => decide,
        };
        self.redeem_code_alone(code, client_id, key_id, now, &decide).await
    }

    /// Redeems one code in its own transaction. The UPDATE's WHERE clause is
    /// the single-use guarantee: of any number of concurrent attempts, exactly
    /// one sees `used_at IS NULL`.
    async fn redeem_code_alone(
        &self,
        code: &SecretHash,
        client_id: &str,
        key_id: &str,
        now: i64,
        decide: &RedeemDecision,
    ) -> StoreResult<Redemption> {
        let consume = format!(
            "UPDATE auth_codes SET used_at = $3, key_id = $4 \
             WHERE code_hash = $1 AND client_id = $2 AND used_at IS NULL AND expires_at > $3 \
             RETURNING {AUTH_CODE_COLUMNS}"
        );
        let was_used =
            "SELECT COUNT(*) FROM auth_codes WHERE code_hash = $1 AND client_id = $2 AND used_at IS NOT NULL";
        let outcome = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            let consumed = sqlx::query_as::<_, AuthCodeRow>(&consume)
                .bind(code.as_bytes())
                .bind(client_id)
                .bind(now)
                .bind(key_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(AuthCodeRecord::from);
            let outcome = match consumed.map(|record| (decide(&record), record)) {
                Some((None, record)) => Redemption::Refused(record),
                Some((Some(new_key), record)) => {
                    debug_assert_eq!(new_key.id, key_id, "the key has the id its code recorded");
                    insert_key_query!(new_key).execute(&mut *tx).await?;
                    Redemption::Issued { code: record, key: new_key.into_record() }
                }
                None => {
                    let used: i64 = sqlx::query_scalar(was_used)
                        .bind(code.as_bytes())
                        .bind(client_id)
                        .fetch_one(&mut *tx)
                        .await?;
                    if used == 0 {
                        return Ok(Redemption::Invalid);
                    }
                    // RFC 6749 §4.1.2: a code presented twice may have been
                    // stolen; what was issued from it is revoked.
                    sqlx::query(
                        "DELETE FROM api_keys WHERE id IN \
                         (SELECT key_id FROM auth_codes WHERE code_hash = $1 AND client_id = $2)",
                    )
                        .bind(code.as_bytes())
                        .bind(client_id)
                        .execute(&mut *tx)
                        .await?;
                    Redemption::Replayed
                }
            };
            tx.commit().await?;
            outcome
        });
        if matches!(outcome, Redemption::Replayed) {
            self.credentials_changed();
        }
        Ok(outcome)
    }
}

/// The INSERT of one new key, as a query expression for the caller's
/// executor (a pool or a transaction, on either engine).
macro_rules! insert_key_query {
    ($k:expr) => {
        $crate::storage::records::bind_new_key!(sqlx::query(&$crate::storage::records::INSERT_ONE_KEY), $k)
    };
}
pub(super) use insert_key_query;

#[cfg(test)]
mod tests {
    use super::*;

    /// An approval alone that finds nothing to take stops before the COMMIT
    /// its SQL carries on SQLite: the writer connection must not be left
    /// inside that transaction (the next `BEGIN IMMEDIATE` would fail).
    #[tokio::test]
    async fn an_approval_that_takes_nothing_leaves_the_writer_usable() {
        let (_dir, store) = Store::sqlite_for_tests().await;
        let session = SecretHash::from_bytes(&[7; 32]).unwrap();
        let code = NewAuthCode {
            code_hash: SecretHash::from_bytes(&[8; 32]).unwrap(),
            user_id: 1,
            expires_at: 2,
            created_at: 1,
        };
        for attempt in 0..2 {
            let id = RequestId::from_bytes(&[9; 32]).unwrap();
            let taken = store.approve_pending_request_alone(&session, id, 0, &code).await;
            assert!(matches!(taken, Ok(None)), "attempt {attempt}: {:?}", taken.err());
        }
    }
}
