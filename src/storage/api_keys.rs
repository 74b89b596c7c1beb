//! API keys, and the bearer lookup every API request makes.

use super::codes::insert_key_query;
use super::records::{ApiKeyRow, BearerRow};
use super::webhooks::{enqueue_events, webhook_target};
use super::{Params, Store, StoreResult, on_pool, on_writer, push_placeholders};
use crate::domain::SecretHash;
use crate::domain::api_key::PresentedKey;
use crate::domain::webhook::{Event, Reason};
use crate::domain::{ApiKey, BearerKey, KeyCursor, NewApiKey};

/// Touches waiting to be written; more are dropped.
const TOUCH_QUEUE: usize = 4096;
const TOUCH_BATCH: usize = 256;

impl Store {
    /// The hot path: served from the key cache when it can be trusted (see
    /// `cache`), otherwise one lookup by the key's id (or, for a key from
    /// before tokens carried their id, by its hash), joined to the owner for
    /// the banned flag.
    pub async fn bearer_key(&self, token: &PresentedKey<'_>) -> StoreResult<Option<BearerKey>> {
        if let Some(key) = self.cache.key(&token.hash) {
            crate::telemetry::count("tachi_bearer_cache_total", "hit");
            return Ok(Some(key));
        }
        crate::telemetry::count("tachi_bearer_cache_total", "miss");
        let generation = self.cache.generation();
        let key = self.bearer_key_uncached(token).await?;
        if let Some(key) = &key {
            self.cache.insert_key(generation, token.hash, key.clone());
        }
        Ok(key)
    }

    async fn bearer_key_uncached(&self, token: &PresentedKey<'_>) -> StoreResult<Option<BearerKey>> {
        macro_rules! bearer_sql {
            ($find:literal) => {
                concat!(
                    "SELECT k.id AS key_id, k.user_id, u.username, k.permissions, k.client_id, k.created_at, ",
                    "k.last_used_at, u.is_admin, u.is_banned ",
                    "FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.token_hash = $1 AND ",
                    $find
                )
            };
        }
        let key_id = token.key_id();
        let sql = if key_id.is_some() { bearer_sql!("k.id = $2") } else { bearer_sql!("k.legacy_token") };
        on_pool!(self, p => {
            let q = sqlx::query_as::<_, BearerRow>(sql).bind(token.hash.as_bytes());
            let q = match &key_id { Some(id) => q.bind(id.as_str()), None => q };
            Ok(q.fetch_optional(p).await?.map(Into::into))
        })
    }

    /// Records that a key was used, in the background: called rarely (see
    /// `service::auth`) so that validation stays a read, and a lost touch
    /// costs nothing but precision. Touches queue for one task that writes
    /// them in batches; when the queue is full they are dropped. (A task per
    /// touch would let a burst of first uses hold memory without bound.)
    pub fn touch_key(&self, token: &SecretHash, key_id: &str, now: i64) {
        self.cache.touched(token, now);
        if let Some(touches) = &self.touches {
            let _ = touches.try_send((key_id.to_owned(), now));
        }
    }

    /// Writes queued touches, up to [`TOUCH_BATCH`] per statement.
    pub(super) fn start_toucher(&mut self) {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, i64)>(TOUCH_QUEUE);
        let store = self.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(TOUCH_BATCH);
            while rx.recv_many(&mut batch, TOUCH_BATCH).await > 0 {
                // One statement, so the writer is held for one round trip.
                let mut sql = String::from("UPDATE api_keys SET last_used_at = v.column2 FROM (VALUES ");
                push_placeholders(&mut sql, Params::for_engine(&store.pool, 1), batch.len(), 2);
                sql.push_str(") AS v WHERE api_keys.id = v.column1");
                let written: StoreResult<()> = async {
                    on_writer!(store, db => {
                        let mut q = sqlx::query(&sql);
                        for (key_id, now) in &batch {
                            q = q.bind(key_id.as_str()).bind(*now);
                        }
                        q.execute(&mut *db).await?;
                    });
                    Ok(())
                }
                .await;
                // A touch that failed is only precision lost (see above).
                let _ = written;
                batch.clear();
            }
        });
        self.touches = Some(tx);
    }

    pub async fn insert_api_key(&self, k: NewApiKey) -> StoreResult<ApiKey> {
        on_writer!(self, db => { insert_key_query!(k).execute(&mut *db).await?; });
        Ok(k.into_record())
    }

    /// Inserts a key a user made by hand unless they already hold `cap` such
    /// keys (`None`: not inserted). The owner's row is locked first (a no-op
    /// UPDATE), so concurrent requests, on any instances, count one after
    /// the other and never pass the cap together.
    pub async fn insert_personal_key_capped(&self, k: NewApiKey, cap: i64) -> StoreResult<Option<ApiKey>> {
        let inserted = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            sqlx::query("UPDATE users SET is_admin = is_admin WHERE id = $1").bind(k.user_id).execute(&mut *tx).await?;
            let held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND client_id IS NULL")
                .bind(k.user_id)
                .fetch_one(&mut *tx)
                .await?;
            if held < cap {
                insert_key_query!(k).execute(&mut *tx).await?;
                tx.commit().await?;
            }
            Ok::<_, super::StoreError>(held < cap)
        })?;
        Ok(inserted.then(|| k.into_record()))
    }

    /// Issues a client's key to a user and revokes that user's earlier keys
    /// for the same client, in one transaction (the Client File Flow: keys are
    /// stored hashed, so a "current key" cannot be shown again, only replaced).
    /// Returns the new key and how many keys it replaced.
    ///
    /// The owner's row is locked first (a no-op UPDATE): two concurrent
    /// requests, on any instances, replace one after the other and leave one key.
    pub async fn replace_client_key(&self, k: NewApiKey) -> StoreResult<(ApiKey, u64)> {
        let (outcome, queued) = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            sqlx::query("UPDATE users SET is_admin = is_admin WHERE id = $1").bind(k.user_id).execute(&mut *tx).await?;
            let replaced: Vec<String> = sqlx::query_scalar("DELETE FROM api_keys WHERE user_id = $1 AND client_id = $2 RETURNING id")
                .bind(k.user_id)
                .bind(k.client_id.as_deref())
                .fetch_all(&mut *tx)
                .await?;
            let mut queued = 0;
            if let (false, Some(client_id)) = (replaced.is_empty(), k.client_id.as_deref())
                && let Some(url) = webhook_target!(tx, client_id).await?
            {
                let events = replaced.iter().map(|key_id| Event::KeyRevoked {
                    user_id: k.user_id,
                    key_id: key_id.clone(),
                    reason: Reason::Replaced,
                });
                queued = enqueue_events!(tx, client_id, &url, events).await?;
            }
            insert_key_query!(k).execute(&mut *tx).await?;
            tx.commit().await?;
            ((k.into_record(), replaced.len() as u64), queued)
        });
        if outcome.1 > 0 {
            self.credentials_changed();
        }
        self.webhooks_queued(queued);
        Ok(outcome)
    }

    /// Up to `limit` of a user's keys in listing order (creation, then id),
    /// after the key at `after`: one page of a listing, found through the
    /// `(user_id, created_at, id)` index without sorting the user's keys.
    pub async fn keys_of_user_after(
        &self,
        user_id: i64,
        after: Option<&KeyCursor>,
        limit: i64,
    ) -> StoreResult<Vec<ApiKey>> {
        let sql = "SELECT k.id, k.user_id, k.identifier, k.permissions, k.client_id, c.name AS client_name, \
                   k.created_at, k.last_used_at \
                   FROM api_keys k LEFT JOIN clients c ON c.client_id = k.client_id \
                   WHERE k.user_id = $1 AND (k.created_at, k.id) > ($2, $3) \
                   ORDER BY k.created_at, k.id LIMIT $4";
        let (created_at, id) = after.map_or((i64::MIN, ""), |(t, id)| (*t, id.as_str()));
        on_pool!(self, p => Ok(sqlx::query_as::<_, ApiKeyRow>(sql)
            .bind(user_id)
            .bind(created_at)
            .bind(id)
            .bind(limit)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(Into::into)
            .collect()))
    }

    /// Revokes one of a user's keys; false if the user has no such key.
    /// A client's key sends that client `key.revoked`, and `app.deauthorized`
    /// when it was the user's last key for the client (events queued in the
    /// same transaction, see `webhooks`).
    pub async fn delete_user_key(&self, user_id: i64, key_id: &str) -> StoreResult<bool> {
        let (deleted, queued) = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            let client: Option<Option<String>> =
                sqlx::query_scalar("DELETE FROM api_keys WHERE user_id = $1 AND id = $2 RETURNING client_id")
                    .bind(user_id)
                    .bind(key_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let mut queued = 0;
            if let Some(Some(client_id)) = &client
                && let Some(url) = webhook_target!(tx, client_id.as_str()).await?
            {
                // Two of the user's last keys revoked at once must still
                // say, once, that none is left: the owner's row is locked
                // (a no-op UPDATE) so that they count one after the other.
                sqlx::query("UPDATE users SET is_admin = is_admin WHERE id = $1").bind(user_id).execute(&mut *tx).await?;
                let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM api_keys WHERE user_id = $1 AND client_id = $2")
                    .bind(user_id)
                    .bind(client_id.as_str())
                    .fetch_one(&mut *tx)
                    .await?;
                let mut events = vec![Event::KeyRevoked { user_id, key_id: key_id.to_owned(), reason: Reason::User }];
                if left == 0 {
                    events.push(Event::AppDeauthorized { user_id, key_id: key_id.to_owned() });
                }
                queued = enqueue_events!(tx, client_id.as_str(), &url, events).await?;
            }
            tx.commit().await?;
            (client.is_some(), queued)
        });
        if deleted {
            self.credentials_changed();
        }
        self.webhooks_queued(queued);
        Ok(deleted)
    }

    /// Revokes a key by its token, but only if `client_id` issued it
    /// (RFC 7009: a client revokes its own tokens). False if nothing matched.
    pub async fn delete_client_key_by_token(&self, token: &PresentedKey<'_>, client_id: &str) -> StoreResult<bool> {
        let key_id = token.key_id();
        let sql = if key_id.is_some() {
            "DELETE FROM api_keys WHERE token_hash = $1 AND client_id = $2 AND id = $3"
        } else {
            "DELETE FROM api_keys WHERE token_hash = $1 AND client_id = $2 AND legacy_token"
        };
        let deleted = on_writer!(self, db => {
            let q = sqlx::query(sql).bind(token.hash.as_bytes()).bind(client_id);
            let q = match &key_id { Some(id) => q.bind(id.as_str()), None => q };
            q.execute(&mut *db).await?.rows_affected() > 0
        });
        if deleted {
            self.credentials_changed();
        }
        Ok(deleted)
    }
}
