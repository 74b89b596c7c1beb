//! API clients.

use super::records::{CLIENT_COLUMNS, ClientRow};
use super::webhooks::{enqueue_events, webhook_target};
use super::{Store, StoreResult, on_pool, on_writer};
use crate::domain::SecretHash;
use crate::domain::webhook::{Event, Reason, SigningSecret};
use crate::domain::{Client, ClientChanges};

/// Binds every column of `CLIENT_COLUMNS`, in order, to `$1`…`$13`.
fn bind_client<'q, DB>(
    q: sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>,
    c: &'q Client,
) -> sqlx::query::Query<'q, DB, <DB as sqlx::Database>::Arguments<'q>>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    &'q [u8]: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<i64>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    Option<String>: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    bool: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    q.bind(&c.client_id)
        .bind(c.secret_hash.as_bytes())
        .bind(&c.name)
        .bind(c.author_id)
        .bind(&c.redirect_uri)
        .bind(&c.webhook_uri)
        .bind(c.permissions.bits())
        .bind(&c.api_key_format)
        .bind(&c.api_key_filename)
        .bind(c.require_pkce)
        .bind(c.created_at)
        .bind(c.public)
        .bind(c.grants.bits())
}

impl Store {
    /// Inserts a client unless its author already owns `cap` clients
    /// (`None`: no cap). Returns whether it was inserted.
    ///
    /// The author's row is locked first (a no-op UPDATE) so that two
    /// concurrent creations, on any number of instances, count one after the
    /// other and never exceed the cap together.
    ///
    /// `webhook_secret`, if given, is stored with it in the same transaction.
    pub async fn insert_client_capped(
        &self,
        c: &Client,
        cap: Option<i64>,
        webhook_secret: Option<&SigningSecret>,
    ) -> StoreResult<bool> {
        let insert = format!(
            "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        );
        on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            sqlx::query("UPDATE users SET is_admin = is_admin WHERE id = $1").bind(c.author_id).execute(&mut *tx).await?;
            if let Some(cap) = cap {
                let owned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients WHERE author_id = $1")
                    .bind(c.author_id)
                    .fetch_one(&mut *tx)
                    .await?;
                if owned >= cap {
                    return Ok(false);
                }
            }
            bind_client(sqlx::query(&insert), c)
                .execute(&mut *tx)
                .await?;
            if let Some(secret) = webhook_secret {
                sqlx::query("INSERT INTO webhook_secrets (client_id, secret, created_at) VALUES ($1, $2, $3)")
                    .bind(&c.client_id)
                    .bind(secret.expose())
                    .bind(c.created_at)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Creates or updates a built-in client from the configuration.
    pub async fn upsert_builtin_client(&self, c: &Client) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (client_id) DO UPDATE SET secret_hash = excluded.secret_hash, name = excluded.name, \
             redirect_uri = excluded.redirect_uri, webhook_uri = excluded.webhook_uri, \
             permissions = excluded.permissions, api_key_format = excluded.api_key_format, \
             api_key_filename = excluded.api_key_filename, require_pkce = excluded.require_pkce, \
             grants = excluded.grants"
        );
        on_writer!(self, db => {
            bind_client(sqlx::query(&sql), c)
                .execute(&mut *db)
                .await?;
        });
        self.credentials_changed();
        Ok(())
    }

    /// Every token exchange authenticates its client: served from the
    /// credential cache when it can be trusted (see `cache`).
    pub async fn client_by_id(&self, client_id: &str) -> StoreResult<Option<Client>> {
        if let Some(client) = self.cache.client(client_id) {
            return Ok(Some(client));
        }
        let generation = self.cache.generation();
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE client_id = $1");
        let client: Option<Client> = on_pool!(self, p => sqlx::query_as::<_, ClientRow>(&sql)
            .bind(client_id)
            .fetch_optional(p)
            .await?
            .map(Into::into));
        if let Some(client) = &client {
            self.cache.insert_client(generation, client.clone());
        }
        Ok(client)
    }

    /// The names of the operator's built-in clients.
    pub async fn builtin_client_names(&self) -> StoreResult<Vec<String>> {
        let sql = "SELECT name FROM clients WHERE author_id IS NULL";
        on_pool!(self, p => Ok(sqlx::query_scalar(sql).fetch_all(p).await?))
    }

    pub async fn clients_by_author(&self, author_id: i64) -> StoreResult<Vec<Client>> {
        let sql = format!("SELECT {CLIENT_COLUMNS} FROM clients WHERE author_id = $1 ORDER BY created_at, client_id");
        on_pool!(self, p => Ok(sqlx::query_as::<_, ClientRow>(&sql)
            .bind(author_id)
            .fetch_all(p)
            .await?
            .into_iter()
            .map(Into::into)
            .collect()))
    }

    /// Applies the changes given; returns the client after them.
    pub async fn update_client(&self, client_id: &str, ch: &ClientChanges) -> StoreResult<Option<Client>> {
        // Each optional field is a pair ($set, $value): nullable fields need
        // "set to NULL" to differ from "leave alone".
        let sql = format!(
            "UPDATE clients SET \
             name = COALESCE($2, name), \
             redirect_uri = CASE WHEN $3 THEN $4 ELSE redirect_uri END, \
             webhook_uri = CASE WHEN $5 THEN $6 ELSE webhook_uri END, \
             api_key_format = CASE WHEN $7 THEN $8 ELSE api_key_format END, \
             api_key_filename = CASE WHEN $9 THEN $10 ELSE api_key_filename END, \
             require_pkce = COALESCE($11, require_pkce), \
             grants = COALESCE($12, grants) \
             WHERE client_id = $1 RETURNING {CLIENT_COLUMNS}"
        );
        let updated = on_writer!(self, db => sqlx::query_as::<_, ClientRow>(&sql)
            .bind(client_id)
            .bind(&ch.name)
            .bind(ch.redirect_uri.is_some())
            .bind(ch.redirect_uri.clone().flatten())
            .bind(ch.webhook_uri.is_some())
            .bind(ch.webhook_uri.clone().flatten())
            .bind(ch.api_key_format.is_some())
            .bind(ch.api_key_format.clone().flatten())
            .bind(ch.api_key_filename.is_some())
            .bind(ch.api_key_filename.clone().flatten())
            .bind(ch.require_pkce)
            .bind(ch.grants.map(|g| g.bits()))
            .fetch_optional(&mut *db)
            .await?
            .map(Client::from));
        self.credentials_changed();
        Ok(updated)
    }

    /// Sets a client's secret; the client hears of it (`client.secret_reset`,
    /// queued in the same transaction).
    pub async fn set_client_secret(&self, client_id: &str, hash: &SecretHash) -> StoreResult<bool> {
        let (changed, queued) = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            let changed = sqlx::query("UPDATE clients SET secret_hash = $2 WHERE client_id = $1")
                .bind(client_id)
                .bind(hash.as_bytes())
                .execute(&mut *tx)
                .await?
                .rows_affected() > 0;
            let mut queued = 0;
            if changed && let Some(url) = webhook_target!(tx, client_id).await? {
                queued = enqueue_events!(tx, client_id, &url, [Event::SecretReset]).await?;
            }
            tx.commit().await?;
            (changed, queued)
        });
        // The old secret must stop working at once.
        self.credentials_changed();
        self.webhooks_queued(queued);
        Ok(changed)
    }

    /// Deletes a client; its keys, codes and pending requests go with it
    /// (foreign keys cascade, and the explicit deletes make that independent
    /// of the engine's foreign-key settings). Each key's revocation is sent
    /// to the client's webhook, queued before the client goes (its signing
    /// secret stays until they are delivered).
    pub async fn delete_client(&self, client_id: &str) -> StoreResult<bool> {
        let (deleted, queued) = on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            let target = webhook_target!(tx, client_id).await?;
            let keys: Vec<(String, i64)> =
                sqlx::query_as("DELETE FROM api_keys WHERE client_id = $1 RETURNING id, user_id")
                    .bind(client_id)
                    .fetch_all(&mut *tx)
                    .await?;
            let mut queued = 0;
            if let Some(url) = &target {
                let events = keys.into_iter().map(|(key_id, user_id)| Event::KeyRevoked {
                    user_id,
                    key_id,
                    reason: Reason::ClientDeleted,
                });
                queued = enqueue_events!(tx, client_id, url, events).await?;
            }
            for sql in [
                "DELETE FROM auth_codes WHERE client_id = $1",
                "DELETE FROM auth_requests WHERE client_id = $1",
                "DELETE FROM device_codes WHERE client_id = $1",
            ] {
                sqlx::query(sql).bind(client_id).execute(&mut *tx).await?;
            }
            let deleted = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                .bind(client_id)
                .execute(&mut *tx)
                .await?
                .rows_affected() > 0;
            tx.commit().await?;
            (deleted, queued)
        });
        if deleted {
            self.credentials_changed();
        }
        self.webhooks_queued(queued);
        Ok(deleted)
    }
}
