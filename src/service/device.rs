//! The device authorization grant (RFC 8628): a program without a browser
//! (a cabinet, a score hook) asks for a device code and a user code, the
//! player types the user code on /device and approves, and the program's
//! polls of the token endpoint end with the same key the code grant gives.

use std::time::Instant;

use crate::domain::Client;
use crate::domain::client::Grants;
use crate::domain::device::{self, PollAnswer, UserCode};
use crate::domain::secret::hex;
use crate::domain::{PermissionSet, PlainSecret, SecretHash, SecretKind, api_key};
use crate::storage::NewDeviceCode;

use super::audit::actor;
use super::keys::client_key_identifier;
use super::limits::LimitKey;
use super::oauth::{ClientCredentials, ExchangeError, ExchangedKey};
use super::{Caller, Service, ServiceError, ServiceResult};

/// A device authorization just made: the codes are shown in this response only.
#[derive(Debug)]
pub struct DeviceAuthorization {
    pub device_code: PlainSecret,
    pub user_code: UserCode,
    pub expires_in: u64,
    pub interval: i64,
}

/// Why a device endpoint refused (RFC 8628 §3.2, §3.5; RFC 6749 §5.2).
#[derive(Debug)]
pub enum DeviceError {
    /// Client authentication failed, or the service did.
    Exchange(ExchangeError),
    UnauthorizedClient,
    InvalidScope(String),
    Missing(&'static str),
    AuthorizationPending,
    SlowDown,
    AccessDenied,
    ExpiredToken,
    /// Unknown, another client's, or already used.
    InvalidGrant,
}

impl From<ExchangeError> for DeviceError {
    fn from(e: ExchangeError) -> Self {
        DeviceError::Exchange(e)
    }
}

impl From<ServiceError> for DeviceError {
    fn from(e: ServiceError) -> Self {
        DeviceError::Exchange(ExchangeError::Service(e))
    }
}

impl From<crate::storage::StoreError> for DeviceError {
    fn from(e: crate::storage::StoreError) -> Self {
        DeviceError::Exchange(e.into())
    }
}

/// What the /device consent page shows for a user code.
#[derive(Debug)]
pub struct DeviceConsent {
    pub client: Client,
    pub author_name: String,
    pub permissions: PermissionSet,
    pub user_code: UserCode,
}

/// How often a freshly drawn user code may collide with a live one before
/// the request is answered "try again": at 20^8 codes, never in practice.
const USER_CODE_DRAWS: usize = 5;

impl Service {
    /// `POST /oauth/device_authorization`: a client that allows the device
    /// grant gets a device code (its secret) and a user code (the player's).
    pub async fn start_device_authorization(
        &self,
        creds: &ClientCredentials,
        scope: Option<&str>,
        ip: &str,
    ) -> Result<DeviceAuthorization, DeviceError> {
        let client = self.authenticate_client(creds, ip).await?;
        if !client.grants.allows(Grants::DEVICE_CODE) {
            return Err(DeviceError::UnauthorizedClient);
        }
        let permissions = match scope.map(str::trim).filter(|s| !s.is_empty()) {
            None => client.permissions,
            Some(scope) => {
                let asked = PermissionSet::parse_scope(scope).map_err(|e| DeviceError::InvalidScope(e.to_string()))?;
                if asked.is_empty() || !asked.is_subset_of(client.permissions) {
                    return Err(DeviceError::InvalidScope(format!(
                        "scope may only contain this client's permissions: {}",
                        client.permissions.to_scope()
                    )));
                }
                asked
            }
        };
        let lifetime = self.settings.device_code_lifetime;
        let created_at = self.now_ms();
        for _ in 0..USER_CODE_DRAWS {
            let device_code = PlainSecret::generate(SecretKind::AuthCode);
            let user_code = UserCode::generate();
            let new = NewDeviceCode {
                device_code_hash: device_code.hash(),
                user_code_hash: user_code.hash(),
                client_id: client.client_id.clone(),
                permissions,
                interval_secs: device::INTERVAL_SECS,
                created_at,
                expires_at: created_at + lifetime.as_millis() as i64,
            };
            if self.store.insert_device_code(&new).await? {
                crate::telemetry::count("tachi_device_authorizations_total", "started");
                return Ok(DeviceAuthorization {
                    device_code,
                    user_code,
                    expires_in: lifetime.as_secs(),
                    interval: device::INTERVAL_SECS,
                });
            }
        }
        Err(ServiceError::Busy.into())
    }

    /// A device's poll of the token endpoint (`grant_type` the device code
    /// URN): pending, too early, declined, expired, or — once — the key.
    pub async fn poll_device_code(
        &self,
        creds: &ClientCredentials,
        device_code: Option<&str>,
        ip: &str,
    ) -> Result<ExchangedKey, DeviceError> {
        let client = self.authenticate_client(creds, ip).await?;
        if !client.grants.allows(Grants::DEVICE_CODE) {
            return Err(DeviceError::UnauthorizedClient);
        }
        let code = device_code.filter(|c| !c.is_empty()).ok_or(DeviceError::Missing("device_code"))?;
        if code.len() > 256 {
            return Err(DeviceError::InvalidGrant);
        }
        let hash = PlainSecret::from_presented(code).hash();
        let Some(found) = self.store.device_code(&hash, &client.client_id).await? else {
            return Err(DeviceError::InvalidGrant);
        };
        let now = self.now_ms();
        match device::poll_answer(found.status, found.expires_at, found.last_polled_at, found.interval_secs, now) {
            PollAnswer::AuthorizationPending => {
                self.store.record_device_poll(&hash, now, 0).await?;
                Err(DeviceError::AuthorizationPending)
            }
            PollAnswer::SlowDown => {
                self.store.record_device_poll(&hash, now, device::SLOW_DOWN_SECS).await?;
                Err(DeviceError::SlowDown)
            }
            PollAnswer::AccessDenied => Err(DeviceError::AccessDenied),
            PollAnswer::ExpiredToken => Err(DeviceError::ExpiredToken),
            PollAnswer::Spent => Err(DeviceError::InvalidGrant),
            PollAnswer::Issue => self.issue_device_key(&hash, client, now).await,
        }
    }

    async fn issue_device_key(&self, hash: &SecretHash, client: Client, now: i64) -> Result<ExchangedKey, DeviceError> {
        let (key_id, token) = api_key::generate();
        let (token_hash, identifier) = (token.hash(), client_key_identifier(&client.name));
        let make_key = |d: &crate::storage::DeviceCodeRecord| {
            // An approved authorization always names its user; a row
            // without one (hand editing only) gives a key nobody holds.
            let user_id = d.user_id.unwrap_or_default();
            self.new_key(
                key_id.clone(),
                token_hash,
                user_id,
                identifier.clone(),
                d.permissions,
                Some(client.client_id.clone()),
            )
        };
        match self.store.claim_device_code(hash, &client.client_id, &key_id, now, make_key).await? {
            Some(mut key) => {
                key.client_name = Some(client.name.clone());
                crate::telemetry::count("tachi_device_authorizations_total", "issued");
                Ok(ExchangedKey { key, token, client })
            }
            // Another poll took it a moment before.
            None => Err(DeviceError::InvalidGrant),
        }
    }

    /// `/device`: the authorization waiting for the code the player typed.
    /// Wrong codes are limited per session and per address.
    pub async fn device_consent(&self, caller: &Caller, typed: &str, ip: &str) -> ServiceResult<DeviceConsent> {
        let (_, session) = caller.session_user()?;
        let limit_keys = self.device_code_limit_keys(session, ip)?;
        let found = match UserCode::parse(typed) {
            Ok(code) => self.store.pending_device_code(&code.hash(), self.now_ms()).await?.map(|d| (code, d)),
            Err(_) => None,
        };
        let Some((user_code, pending)) = found else {
            return Err(self.wrong_device_code(&limit_keys));
        };
        let client = self.client(&pending.client_id).await?;
        let author_name = self.client_author_name(&client).await?;
        Ok(DeviceConsent { client, author_name, permissions: pending.permissions, user_code })
    }

    /// The player's answer on /device's consent page. Returns the client and
    /// whether it was approved.
    pub async fn answer_device(&self, caller: &Caller, typed: &str, approve: bool, ip: &str) -> ServiceResult<Client> {
        let (user, session) = caller.session_user()?;
        let limit_keys = self.device_code_limit_keys(session, ip)?;
        let answered = match UserCode::parse(typed) {
            Ok(code) => self.store.answer_device_code(&code.hash(), user.id, approve, self.now_ms()).await?,
            Err(_) => None,
        };
        let Some(answered) = answered else {
            return Err(self.wrong_device_code(&limit_keys));
        };
        if approve {
            self.record(Some(user.id), "app authorised", actor::USER, Some(&answered.client_id), None).await;
        }
        self.client(&answered.client_id).await
    }

    /// The limiter's keys for wrong codes from this session and this
    /// address; refused at once if either has used up its tries.
    fn device_code_limit_keys(&self, session: &SecretHash, ip: &str) -> ServiceResult<[LimitKey; 2]> {
        let keys =
            [LimitKey::of(&["device code session", &hex(session.as_bytes())]), LimitKey::of(&["device code ip", ip])];
        let now = Instant::now();
        for key in keys {
            self.limits
                .device_user_code
                .blocked(key, now)
                .map_err(|retry_after_secs| ServiceError::RateLimited { retry_after_secs })?;
        }
        Ok(keys)
    }

    fn wrong_device_code(&self, keys: &[LimitKey; 2]) -> ServiceError {
        let now = Instant::now();
        for key in keys {
            self.limits.device_user_code.record(*key, now);
        }
        ServiceError::Invalid(
            "No program is waiting for this code. Check it against the one your program shows; if it has \
             expired, the program can show you a new one."
                .into(),
        )
    }
}
