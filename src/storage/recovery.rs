//! Account recovery: passwords, reset and verification codes, the mail
//! queue, and ending a user's sessions and keys.

use super::webhooks::{enqueue_events, webhook_target};
use super::{Store, StoreError, StoreResult, on_pool, on_writer};
use crate::domain::SecretHash;
use crate::domain::webhook::{Event, Reason};

/// What an account code is for (the `purpose` column of codes and mail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePurpose {
    Reset,
    Verify,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Reset => "reset",
            CodePurpose::Verify => "verify",
        }
    }

    pub fn parse(s: &str) -> Option<CodePurpose> {
        match s {
            "reset" => Some(CodePurpose::Reset),
            "verify" => Some(CodePurpose::Verify),
            _ => None,
        }
    }
}

/// A mail the sender has claimed: who it is for and what it says.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
}

impl Store {
    /// Sets a user's password hash and ends their sessions, all but `keep`
    /// (the session that changed it) when given. Keys are left alone.
    pub async fn set_password(&self, user_id: i64, hash: &str, keep: Option<&SecretHash>) -> StoreResult<bool> {
        let changed = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            let changed = sqlx::query("UPDATE users SET password_hash = $2 WHERE id = $1")
                .bind(user_id)
                .bind(hash)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            match keep {
                Some(keep) => {
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id_hash <> $2")
                        .bind(user_id)
                        .bind(keep.as_bytes())
                        .execute(&mut *tx)
                        .await?
                }
                None => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?,
            };
            tx.commit().await?;
            Ok::<_, StoreError>(changed)
        })?;
        self.credentials_changed();
        Ok(changed)
    }

    /// Ends every session of a user; how many there were.
    pub async fn end_sessions(&self, user_id: i64) -> StoreResult<u64> {
        let n = on_writer!(self, db => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut *db)
            .await?
            .rows_affected());
        self.credentials_changed();
        Ok(n)
    }

    /// Revokes every API key of a user; how many there were. Each client
    /// whose keys went hears of each (`key.revoked`, queued in the same
    /// transaction).
    pub async fn delete_user_keys(&self, user_id: i64) -> StoreResult<u64> {
        let (n, queued) = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            let keys: Vec<(String, Option<String>)> =
                sqlx::query_as("DELETE FROM api_keys WHERE user_id = $1 RETURNING id, client_id")
                    .bind(user_id)
                    .fetch_all(&mut *tx)
                    .await?;
            let mut by_client: std::collections::BTreeMap<String, Vec<String>> = Default::default();
            for (key_id, client_id) in &keys {
                if let Some(client_id) = client_id {
                    by_client.entry(client_id.clone()).or_default().push(key_id.clone());
                }
            }
            let mut queued = 0;
            for (client_id, key_ids) in by_client {
                if let Some(url) = webhook_target!(tx, client_id.as_str()).await? {
                    let events = key_ids.into_iter().map(|key_id| Event::KeyRevoked {
                        user_id,
                        key_id,
                        reason: Reason::Operator,
                    });
                    queued += enqueue_events!(tx, client_id.as_str(), &url, events).await?;
                }
            }
            tx.commit().await?;
            (keys.len() as u64, queued)
        });
        self.credentials_changed();
        self.webhooks_queued(queued);
        Ok(n)
    }

    /// The ids of the accounts with this e-mail address, in any case.
    pub async fn users_by_email(&self, email: &str) -> StoreResult<Vec<i64>> {
        let sql = "SELECT id FROM users WHERE lower(email) = lower($1) ORDER BY id LIMIT 10";
        on_pool!(self, p => Ok(sqlx::query_scalar(sql).bind(email).fetch_all(p).await?))
    }

    pub async fn email_verified(&self, user_id: i64) -> StoreResult<bool> {
        let sql = "SELECT email_verified FROM users WHERE id = $1";
        on_pool!(self, p => Ok(sqlx::query_scalar::<_, bool>(sql).bind(user_id).fetch_optional(p).await?.unwrap_or(false)))
    }

    pub async fn set_email_verified(&self, user_id: i64) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("UPDATE users SET email_verified = TRUE WHERE id = $1").bind(user_id).execute(&mut *db).await?;
            Ok(())
        })
    }

    /// Stores a new code for `purpose`, replacing the user's previous one:
    /// a newer reset request makes the older link worthless.
    pub async fn replace_account_code(
        &self,
        user_id: i64,
        purpose: CodePurpose,
        hash: &SecretHash,
        expires_at: i64,
    ) -> StoreResult<()> {
        on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            sqlx::query("DELETE FROM account_codes WHERE user_id = $1 AND purpose = $2")
                .bind(user_id)
                .bind(purpose.as_str())
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO account_codes (code_hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(hash.as_bytes())
                .bind(user_id)
                .bind(purpose.as_str())
                .bind(expires_at)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(())
        })
    }

    /// Consumes a live code: one statement, so two concurrent uses cannot
    /// both get it. The user it was for, if it was live.
    pub async fn take_account_code(
        &self,
        hash: &SecretHash,
        purpose: CodePurpose,
        now: i64,
    ) -> StoreResult<Option<i64>> {
        let sql =
            "DELETE FROM account_codes WHERE code_hash = $1 AND purpose = $2 AND expires_at > $3 RETURNING user_id";
        on_writer!(self, db => Ok(sqlx::query_scalar(sql)
            .bind(hash.as_bytes())
            .bind(purpose.as_str())
            .bind(now)
            .fetch_optional(&mut *db)
            .await?))
    }

    /// Queues a mail, to be sent by the mail worker.
    pub async fn queue_mail(&self, user_id: i64, purpose: CodePurpose, now: i64) -> StoreResult<()> {
        let sql = "INSERT INTO mail_queue (user_id, purpose, next_attempt_at, created_at) VALUES ($1, $2, $3, $3)";
        on_writer!(self, db => {
            sqlx::query(sql).bind(user_id).bind(purpose.as_str()).bind(now).execute(&mut *db).await?;
            Ok(())
        })
    }

    /// Claims the mail due longest, if any: its next attempt is moved to
    /// `lease_until`, so another worker (or instance) leaves it alone while
    /// this one sends it, and a crash mid-send only delays it.
    pub async fn claim_mail(&self, now: i64, lease_until: i64) -> StoreResult<Option<QueuedMail>> {
        let sql = "UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = $2 \
                   WHERE id = (SELECT id FROM mail_queue WHERE next_attempt_at <= $1 \
                               ORDER BY next_attempt_at, id LIMIT 1) \
                   AND next_attempt_at <= $1 \
                   RETURNING id, user_id, purpose, attempts";
        let row: Option<(i64, i64, String, i64)> = on_writer!(self, db => sqlx::query_as(sql)
            .bind(now)
            .bind(lease_until)
            .fetch_optional(&mut *db)
            .await?);
        Ok(row.map(|(id, user_id, purpose, attempts)| QueuedMail { id, user_id, purpose, attempts }))
    }

    /// The mail was sent (or is given up): it leaves the queue.
    pub async fn delete_mail(&self, id: i64) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("DELETE FROM mail_queue WHERE id = $1").bind(id).execute(&mut *db).await?;
            Ok(())
        })
    }

    /// The mail could not be sent: try again at `next_attempt_at`.
    pub async fn retry_mail(&self, id: i64, next_attempt_at: i64) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("UPDATE mail_queue SET next_attempt_at = $2 WHERE id = $1")
                .bind(id)
                .bind(next_attempt_at)
                .execute(&mut *db)
                .await?;
            Ok(())
        })
    }

    /// Mail waiting to be sent (for tests and the operator).
    pub async fn queued_mail_count(&self) -> StoreResult<i64> {
        on_pool!(self, p => Ok(sqlx::query_scalar("SELECT COUNT(*) FROM mail_queue").fetch_one(p).await?))
    }

    /// Removes expired reset and verification codes.
    pub async fn delete_expired_account_codes(&self, now: i64) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("DELETE FROM account_codes WHERE expires_at <= $1").bind(now).execute(&mut *db).await?;
            Ok(())
        })
    }
}
