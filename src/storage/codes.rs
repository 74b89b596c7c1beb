//! Pending authorization requests and authorization codes: the two halves of
//! the code flow, each consumed exactly once by a single atomic statement.

use super::group_commit::{self, Approval, Exchange, PendingWrite};
use super::records::{
    AUTH_CODE_COLUMNS, AUTH_CODE_INSERT, AUTH_CODE_WIDTH, AuthCodeRow, PENDING_COLUMNS, PENDING_INSERT, PENDING_UPSERT,
    PENDING_WIDTH, PendingRow, bind_new_code, bind_pending,
};
use super::webhooks::{enqueue_events, webhook_target};
use super::{Store, StoreError, StoreResult, on_pool, on_writer, write_transaction};
use crate::domain::exchange::{self, AuthCode, Presented, Refusal};
use crate::domain::webhook::{Event, Reason};
use crate::domain::{ApiKey, NewApiKey, NewAuthCode, PendingRequest, RequestId, SecretHash};

/// An attempt to redeem a code: what the client presented, and the key to
/// write if the domain's rule (`exchange::check`) accepts it. No `Debug`:
/// it holds the PKCE verifier.
pub struct RedemptionAttempt {
    /// The hash of the code presented.
    pub code: SecretHash,
    /// The client presenting it (authenticated): only its own codes are found.
    pub client_id: String,
    pub code_verifier: Option<String>,
    pub redirect_uri: Option<String>,
    /// The key to issue. It gets the code's user and permissions; the code
    /// records its id (rather than the key recording its code): a replayed
    /// code finds the key to revoke by its primary key, and issuing a key does
    /// not have to write into an index of random code hashes.
    pub key_id: String,
    pub token_hash: SecretHash,
    pub identifier: String,
    /// The moment of the attempt (ms): the code must be live then, and the
    /// key is created then.
    pub now: i64,
}

impl RedemptionAttempt {
    pub(super) fn presented(&self) -> Presented<'_> {
        Presented { code_verifier: self.code_verifier.as_deref(), redirect_uri: self.redirect_uri.as_deref() }
    }

    /// The key a code accepted for this attempt issues.
    pub(super) fn key_for(&self, code: &AuthCode) -> NewApiKey {
        NewApiKey {
            id: self.key_id.clone(),
            token_hash: self.token_hash,
            user_id: code.user_id,
            identifier: self.identifier.clone(),
            permissions: code.permissions,
            client_id: Some(self.client_id.clone()),
            created_at: self.now,
        }
    }
}

/// How an attempt to redeem a code ended.
#[derive(Debug)]
pub enum Redemption {
    /// The code was live and is now used; the key was issued in the same transaction.
    Issued(ApiKey),
    /// The code was live but the rule refused what was presented; it is used
    /// up all the same.
    Refused(Refusal),
    /// The code was already used; the key issued from it (its id, if it was
    /// issued one, and whose it was) has been revoked.
    Replayed { user_id: i64, key_id: Option<String> },
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
        let write = PendingWrite { session: *session, request: request.clone() };
        group_commit::submit(self, self.recorder.as_ref(), write).await
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
        group_commit::submit(self, self.approver.as_ref(), Approval { session: *session, id, newer_than, code }).await
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

    /// Redeems a code: marks it used and, if the domain's rule accepts what
    /// was presented, inserts the attempt's key, in the same transaction as
    /// other exchanges waiting at this moment (see `group_commit`). Anything
    /// but a first, live presentation is settled alone, by `redeem_code_alone`.
    pub async fn redeem_code(&self, attempt: RedemptionAttempt) -> StoreResult<Redemption> {
        group_commit::submit(self, self.redeemer.as_ref(), Exchange(attempt)).await
    }

    /// Redeems one code in its own transaction. The UPDATE's WHERE clause is
    /// the single-use guarantee: of any number of concurrent attempts, exactly
    /// one sees `used_at IS NULL`.
    pub(super) async fn redeem_code_alone(&self, attempt: &RedemptionAttempt) -> StoreResult<Redemption> {
        let consume = format!(
            "UPDATE auth_codes SET used_at = $3, key_id = $4 \
             WHERE code_hash = $1 AND client_id = $2 AND used_at IS NULL AND expires_at > $3 \
             RETURNING {AUTH_CODE_COLUMNS}"
        );
        let used =
            "SELECT user_id, key_id FROM auth_codes WHERE code_hash = $1 AND client_id = $2 AND used_at IS NOT NULL";
        let (code, client_id) = (attempt.code.as_bytes(), attempt.client_id.as_str());
        let mut queued = 0;
        let outcome = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            let consumed = sqlx::query_as::<_, AuthCodeRow>(&consume)
                .bind(code)
                .bind(client_id)
                .bind(attempt.now)
                .bind(attempt.key_id.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(AuthCode::from);
            let outcome = match consumed {
                Some(record) => match exchange::check(&record, &attempt.presented()) {
                    Err(refusal) => Redemption::Refused(refusal),
                    Ok(()) => {
                        let new_key = attempt.key_for(&record);
                        insert_key_query!(new_key).execute(&mut *tx).await?;
                        Redemption::Issued(new_key.into_record())
                    }
                },
                None => {
                    let Some((user_id, key_id)) = sqlx::query_as::<_, (i64, Option<String>)>(used)
                        .bind(code)
                        .bind(client_id)
                        .fetch_optional(&mut *tx)
                        .await?
                    else {
                        return Ok(Redemption::Invalid);
                    };
                    // RFC 6749 §4.1.2: a code presented twice may have been
                    // stolen; what was issued from it is revoked, and the
                    // client hears of it (`webhooks`).
                    let revoked: Vec<(String, i64)> = sqlx::query_as(
                        "DELETE FROM api_keys WHERE id IN \
                         (SELECT key_id FROM auth_codes WHERE code_hash = $1 AND client_id = $2) \
                         RETURNING id, user_id",
                    )
                        .bind(code)
                        .bind(client_id)
                        .fetch_all(&mut *tx)
                        .await?;
                    if !revoked.is_empty() && let Some(url) = webhook_target!(tx, client_id).await? {
                        let events = revoked.into_iter().map(|(key_id, user_id)| Event::KeyRevoked {
                            user_id,
                            key_id,
                            reason: Reason::CodeReplayed,
                        });
                        queued = enqueue_events!(tx, client_id, &url, events).await?;
                    }
                    Redemption::Replayed { user_id, key_id }
                }
            };
            tx.commit().await?;
            outcome
        });
        if matches!(outcome, Redemption::Replayed { .. }) {
            self.credentials_changed();
        }
        self.webhooks_queued(queued);
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
