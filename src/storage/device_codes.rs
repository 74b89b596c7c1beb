//! Device authorizations (RFC 8628): created by the device, answered by the
//! player on /device, and turned into one key by a single atomic claim.

use sqlx::FromRow;

use super::codes::insert_key_query;
use super::records::hash_from;
use super::{Store, StoreResult, on_pool, on_writer};
use crate::domain::device::DeviceStatus;
use crate::domain::{ApiKey, NewApiKey, PermissionSet, SecretHash};

/// A device authorization to store. The codes themselves are never stored.
pub struct NewDeviceCode {
    pub device_code_hash: SecretHash,
    pub user_code_hash: SecretHash,
    pub client_id: String,
    pub permissions: PermissionSet,
    pub interval_secs: i64,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone)]
pub struct DeviceCodeRecord {
    pub device_code_hash: SecretHash,
    pub client_id: String,
    pub permissions: PermissionSet,
    pub status: DeviceStatus,
    pub user_id: Option<i64>,
    pub interval_secs: i64,
    pub last_polled_at: Option<i64>,
    pub expires_at: i64,
}

#[derive(FromRow)]
struct DeviceCodeRow {
    device_code_hash: Vec<u8>,
    client_id: String,
    permissions: i64,
    status: String,
    user_id: Option<i64>,
    interval_secs: i64,
    last_polled_at: Option<i64>,
    expires_at: i64,
}

impl From<DeviceCodeRow> for DeviceCodeRecord {
    fn from(r: DeviceCodeRow) -> Self {
        DeviceCodeRecord {
            device_code_hash: hash_from(&r.device_code_hash),
            client_id: r.client_id,
            permissions: PermissionSet::from_bits(r.permissions),
            status: DeviceStatus::parse(&r.status),
            user_id: r.user_id,
            interval_secs: r.interval_secs,
            last_polled_at: r.last_polled_at,
            expires_at: r.expires_at,
        }
    }
}

const COLUMNS: &str =
    "device_code_hash, client_id, permissions, status, user_id, interval_secs, last_polled_at, expires_at";

impl Store {
    /// Stores a new device authorization; `false` if its user code is
    /// already taken by another one (the caller draws a new code).
    pub async fn insert_device_code(&self, d: &NewDeviceCode) -> StoreResult<bool> {
        let sql = "INSERT INTO device_codes (device_code_hash, user_code_hash, client_id, permissions, \
                   interval_secs, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                   ON CONFLICT (user_code_hash) DO NOTHING";
        on_writer!(self, db => Ok(sqlx::query(sql)
            .bind(d.device_code_hash.as_bytes())
            .bind(d.user_code_hash.as_bytes())
            .bind(&d.client_id)
            .bind(d.permissions.bits())
            .bind(d.interval_secs)
            .bind(d.created_at)
            .bind(d.expires_at)
            .execute(&mut *db)
            .await?
            .rows_affected()
            == 1))
    }

    /// The device authorization of a device code, if it is `client_id`'s.
    pub async fn device_code(&self, hash: &SecretHash, client_id: &str) -> StoreResult<Option<DeviceCodeRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM device_codes WHERE device_code_hash = $1 AND client_id = $2");
        on_pool!(self, p => Ok(sqlx::query_as::<_, DeviceCodeRow>(&sql)
            .bind(hash.as_bytes())
            .bind(client_id)
            .fetch_optional(p)
            .await?
            .map(Into::into)))
    }

    /// The live device authorization waiting for a player, by its user code.
    pub async fn pending_device_code(&self, user_code: &SecretHash, now: i64) -> StoreResult<Option<DeviceCodeRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM device_codes WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $2"
        );
        on_pool!(self, p => Ok(sqlx::query_as::<_, DeviceCodeRow>(&sql)
            .bind(user_code.as_bytes())
            .bind(now)
            .fetch_optional(p)
            .await?
            .map(Into::into)))
    }

    /// Records a poll; `slow_down` seconds are added to the interval of a
    /// device that polled too early.
    pub async fn record_device_poll(&self, hash: &SecretHash, now: i64, slow_down: i64) -> StoreResult<()> {
        let sql = "UPDATE device_codes SET last_polled_at = $2, interval_secs = interval_secs + $3 \
                   WHERE device_code_hash = $1";
        on_writer!(self, db => {
            sqlx::query(sql).bind(hash.as_bytes()).bind(now).bind(slow_down).execute(&mut *db).await?;
            Ok(())
        })
    }

    /// The player's answer to a live, pending authorization: approved (for
    /// `user_id`) or denied. Returns the authorization as it was, or `None`
    /// if there was none by that user code to answer.
    pub async fn answer_device_code(
        &self,
        user_code: &SecretHash,
        user_id: i64,
        approve: bool,
        now: i64,
    ) -> StoreResult<Option<DeviceCodeRecord>> {
        let status = if approve { DeviceStatus::Approved } else { DeviceStatus::Denied };
        let sql = format!(
            "UPDATE device_codes SET status = $3, user_id = $4 \
             WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $2 RETURNING {COLUMNS}"
        );
        on_writer!(self, db => Ok(sqlx::query_as::<_, DeviceCodeRow>(&sql)
            .bind(user_code.as_bytes())
            .bind(now)
            .bind(status.as_str())
            .bind(user_id)
            .fetch_optional(&mut *db)
            .await?
            .map(Into::into)))
    }

    /// Takes the key of an approved, live authorization: marks it issued and
    /// inserts the key `make_key` makes of it, in one transaction. The
    /// UPDATE's WHERE clause is the single-use guarantee: of any number of
    /// concurrent polls, exactly one finds it approved. `None` for the others.
    pub async fn claim_device_code(
        &self,
        hash: &SecretHash,
        client_id: &str,
        key_id: &str,
        now: i64,
        make_key: impl Fn(&DeviceCodeRecord) -> NewApiKey,
    ) -> StoreResult<Option<ApiKey>> {
        let claim = format!(
            "UPDATE device_codes SET status = 'issued', key_id = $3, last_polled_at = $4 \
             WHERE device_code_hash = $1 AND client_id = $2 AND status = 'approved' AND expires_at > $4 \
             RETURNING {COLUMNS}"
        );
        on_writer!(self, db => {
            let mut tx = super::begin(db).await?;
            let claimed = sqlx::query_as::<_, DeviceCodeRow>(&claim)
                .bind(hash.as_bytes())
                .bind(client_id)
                .bind(key_id)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?
                .map(DeviceCodeRecord::from);
            let Some(record) = claimed else {
                return Ok(None);
            };
            let key = make_key(&record);
            debug_assert_eq!(key.id, key_id, "the key has the id its authorization recorded");
            insert_key_query!(key).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(Some(key.into_record()))
        })
    }

    /// Forgets device authorizations past their lifetime.
    pub async fn delete_expired_device_codes(&self, now: i64) -> StoreResult<()> {
        on_writer!(self, db => {
            sqlx::query("DELETE FROM device_codes WHERE expires_at <= $1").bind(now).execute(&mut *db).await?;
            Ok(())
        })
    }
}
