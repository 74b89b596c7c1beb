//! What the storage layer hands back: records with domain types, decoded from
//! rows in one place each.

use sqlx::FromRow;

use crate::domain::exchange::AuthCode;
use crate::domain::{PermissionSet, SecretHash};

#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub about: String,
    pub status: Option<String>,
    pub is_admin: bool,
    pub is_banned: bool,
    pub created_at: i64,
    /// Tachi's profile fields (migration 0009), kept for accounts imported
    /// from it: `lastSeen` (unix ms), `socialMedia` (a JSON object as text),
    /// `badges` (a JSON array as text), the custom picture and banner
    /// locations, `isSupporter`, and the auth level MOD.
    pub last_seen: Option<i64>,
    pub social_media: String,
    pub badges: String,
    pub custom_pfp_location: Option<String>,
    pub custom_banner_location: Option<String>,
    pub is_supporter: bool,
    pub is_moderator: bool,
}

#[derive(FromRow)]
pub(super) struct UserRow {
    id: i64,
    username: String,
    email: String,
    password_hash: String,
    about: String,
    status: Option<String>,
    is_admin: bool,
    is_banned: bool,
    created_at: i64,
    last_seen: Option<i64>,
    social_media: String,
    badges: String,
    custom_pfp_location: Option<String>,
    custom_banner_location: Option<String>,
    is_supporter: bool,
    is_moderator: bool,
}

impl From<UserRow> for UserRecord {
    fn from(r: UserRow) -> Self {
        UserRecord {
            id: r.id,
            username: r.username,
            email: r.email,
            password_hash: r.password_hash,
            about: r.about,
            status: r.status,
            is_admin: r.is_admin,
            is_banned: r.is_banned,
            created_at: r.created_at,
            last_seen: r.last_seen,
            social_media: r.social_media,
            badges: r.badges,
            custom_pfp_location: r.custom_pfp_location,
            custom_banner_location: r.custom_banner_location,
            is_supporter: r.is_supporter,
            is_moderator: r.is_moderator,
        }
    }
}

pub(super) const USER_COLUMNS: &str = "id, username, email, password_hash, about, status, is_admin, is_banned, \
     created_at, last_seen, social_media, badges, custom_pfp_location, custom_banner_location, is_supporter, \
     is_moderator";

pub struct NewUser<'a> {
    pub username: &'a str,
    pub username_key: &'a str,
    /// `domain::user::username_skeleton` of the name.
    pub username_skeleton: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub created_at: i64,
}

/// The identity behind a session cookie, as the request authenticator needs it.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    pub is_banned: bool,
    /// So that a cached session ends on time.
    pub expires_at: i64,
}

#[derive(FromRow)]
pub(super) struct SessionUserRow {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    pub is_banned: bool,
    pub expires_at: i64,
}

impl From<SessionUserRow> for SessionUser {
    fn from(r: SessionUserRow) -> Self {
        SessionUser {
            user_id: r.user_id,
            username: r.username,
            is_admin: r.is_admin,
            is_banned: r.is_banned,
            expires_at: r.expires_at,
        }
    }
}

/// Decodes a stored hash; a malformed one (which only manual editing could
/// produce) becomes a hash nothing matches.
pub(super) fn hash_from(bytes: &[u8]) -> SecretHash {
    SecretHash::from_bytes(bytes).unwrap_or_else(SecretHash::dummy)
}

#[derive(Debug, Clone)]
pub struct ClientRecord {
    pub client_id: String,
    pub secret_hash: SecretHash,
    pub name: String,
    /// `None` for a built-in client, defined by the operator's configuration.
    pub author_id: Option<i64>,
    pub redirect_uri: Option<String>,
    pub webhook_uri: Option<String>,
    pub permissions: PermissionSet,
    pub api_key_format: Option<String>,
    pub api_key_filename: Option<String>,
    pub require_pkce: bool,
    /// A public client (RFC 8252): no secret, PKCE required.
    pub public: bool,
    /// The grants it allows (the code grant unless its author added others).
    pub grants: crate::domain::client::Grants,
    pub created_at: i64,
}

#[derive(FromRow)]
pub(super) struct ClientRow {
    client_id: String,
    secret_hash: Vec<u8>,
    name: String,
    author_id: Option<i64>,
    redirect_uri: Option<String>,
    webhook_uri: Option<String>,
    permissions: i64,
    api_key_format: Option<String>,
    api_key_filename: Option<String>,
    require_pkce: bool,
    public: bool,
    grants: i64,
    created_at: i64,
}

impl From<ClientRow> for ClientRecord {
    fn from(r: ClientRow) -> Self {
        ClientRecord {
            client_id: r.client_id,
            secret_hash: hash_from(&r.secret_hash),
            name: r.name,
            author_id: r.author_id,
            redirect_uri: r.redirect_uri,
            webhook_uri: r.webhook_uri,
            permissions: PermissionSet::from_bits(r.permissions),
            api_key_format: r.api_key_format,
            api_key_filename: r.api_key_filename,
            require_pkce: r.require_pkce,
            public: r.public,
            grants: crate::domain::client::Grants::from_bits(r.grants),
            created_at: r.created_at,
        }
    }
}

pub(super) const CLIENT_COLUMNS: &str = "client_id, secret_hash, name, author_id, redirect_uri, webhook_uri, permissions, \
     api_key_format, api_key_filename, require_pkce, created_at, public, grants";

/// The editable fields of a client; `None` leaves a field as it is.
#[derive(Debug, Default, Clone)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub redirect_uri: Option<Option<String>>,
    pub webhook_uri: Option<Option<String>>,
    pub api_key_format: Option<Option<String>>,
    pub api_key_filename: Option<Option<String>>,
    pub require_pkce: Option<bool>,
    pub grants: Option<crate::domain::client::Grants>,
}

/// Which pending request a consent page showed: its form posts it back, so
/// approving approves exactly that request. Derived from the session and
/// the request (see `PendingRequest::id_in`): showing the same request again
/// names the same row instead of adding one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; 32]);

impl RequestId {
    pub fn from_bytes(bytes: &[u8]) -> Option<RequestId> {
        bytes.try_into().ok().map(RequestId)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// 64 lowercase hex digits, as the consent form carries it.
    pub fn to_hex(&self) -> String {
        crate::domain::secret::hex(&self.0)
    }

    pub fn parse(hex: &str) -> Option<RequestId> {
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let mut id = [0; 32];
        for (i, byte) in id.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(RequestId(id))
    }
}

/// An authorization request the consent screen showed and the user has not
/// answered yet.
#[derive(Debug, Clone)]
pub struct PendingRequest {
    pub id: RequestId,
    pub client_id: String,
    pub redirect_uri: String,
    pub permissions: PermissionSet,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub context: Option<String>,
    /// Came through `/oauth/authorize`: a decline is reported to the client.
    pub standard: bool,
    pub created_at: i64,
}

#[derive(FromRow)]
pub(super) struct PendingRow {
    request_id: Vec<u8>,
    client_id: String,
    redirect_uri: String,
    permissions: i64,
    state: Option<String>,
    code_challenge: Option<String>,
    context: Option<String>,
    standard: bool,
    created_at: i64,
}

impl From<PendingRow> for PendingRequest {
    fn from(r: PendingRow) -> Self {
        PendingRequest {
            // Written from a `RequestId` (32 bytes) or by migration 0008 (32 random bytes).
            id: RequestId::from_bytes(&r.request_id).unwrap_or(RequestId([0; 32])),
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            permissions: PermissionSet::from_bits(r.permissions),
            state: r.state,
            code_challenge: r.code_challenge,
            context: r.context,
            standard: r.standard,
            created_at: r.created_at,
        }
    }
}

/// What an [`AuthCodeRow`] reads, for the `RETURNING` of a consumed code.
pub(super) const AUTH_CODE_COLUMNS: &str = "user_id, client_id, redirect_uri, permissions, code_challenge, created_at";

/// The columns a new key is inserted with, in the order [`bind_new_key`] binds them.
pub(super) const NEW_KEY_COLUMNS: &str = "id, token_hash, user_id, identifier, permissions, client_id, created_at";

pub(super) static INSERT_ONE_KEY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!("INSERT INTO api_keys ({NEW_KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)")
});

/// Binds a `NewApiKey`'s [`NEW_KEY_COLUMNS`] to a query, for the caller's
/// executor (a pool or a transaction, on either engine).
macro_rules! bind_new_key {
    ($q:expr, $k:expr) => {
        $q.bind($k.id.as_str())
            .bind($k.token_hash.as_bytes())
            .bind($k.user_id)
            .bind($k.identifier.as_str())
            .bind($k.permissions.bits())
            .bind($k.client_id.as_deref())
            .bind($k.created_at)
    };
}
pub(super) use bind_new_key;

pub(super) const PENDING_COLUMNS: &str =
    "request_id, client_id, redirect_uri, permissions, state, code_challenge, context, standard, created_at";

/// Recording a pending request, `INSERT INTO auth_requests (…) VALUES`, then
/// the rows, then [`PENDING_UPSERT`]: the same request shown again (same id)
/// is only made younger. Bound by [`bind_pending`].
pub(super) const PENDING_INSERT: &str = "INSERT INTO auth_requests (request_id, session_hash, client_id, \
     redirect_uri, permissions, state, code_challenge, context, standard, created_at) VALUES ";
pub(super) const PENDING_WIDTH: usize = 10;
pub(super) const PENDING_UPSERT: &str = " ON CONFLICT (request_id) DO UPDATE SET created_at = excluded.created_at";

/// Binds one row of [`PENDING_INSERT`]: a session's hash and its request.
macro_rules! bind_pending {
    ($q:expr, $session:expr, $r:expr) => {
        $q.bind($r.id.as_bytes())
            .bind($session.as_bytes())
            .bind($r.client_id.as_str())
            .bind($r.redirect_uri.as_str())
            .bind($r.permissions.bits())
            .bind($r.state.as_deref())
            .bind($r.code_challenge.as_deref())
            .bind($r.context.as_deref())
            .bind($r.standard)
            .bind($r.created_at)
    };
}
pub(super) use bind_pending;

#[derive(FromRow)]
pub(super) struct AuthCodeRow {
    user_id: i64,
    client_id: String,
    redirect_uri: String,
    permissions: i64,
    code_challenge: Option<String>,
    created_at: i64,
}

impl From<AuthCodeRow> for AuthCode {
    fn from(r: AuthCodeRow) -> Self {
        AuthCode {
            user_id: r.user_id,
            client_id: r.client_id,
            redirect_uri: r.redirect_uri,
            permissions: PermissionSet::from_bits(r.permissions),
            code_challenge: r.code_challenge,
            created_at: r.created_at,
        }
    }
}

/// Creating codes: `AUTH_CODE_INSERT`, then one row of [`AUTH_CODE_WIDTH`]
/// placeholders per code, bound by [`bind_new_code`].
pub(super) const AUTH_CODE_INSERT: &str = "INSERT INTO auth_codes (code_hash, user_id, client_id, redirect_uri, \
     permissions, code_challenge, created_at, expires_at) VALUES ";
pub(super) const AUTH_CODE_WIDTH: usize = 8;

/// Binds one row of [`AUTH_CODE_INSERT`]: a new code and the request it approves.
macro_rules! bind_new_code {
    ($q:expr, $code:expr, $request:expr) => {
        $q.bind($code.code_hash.as_bytes())
            .bind($code.user_id)
            .bind($request.client_id.as_str())
            .bind($request.redirect_uri.as_str())
            .bind($request.permissions.bits())
            .bind($request.code_challenge.as_deref())
            .bind($code.created_at)
            .bind($code.expires_at)
    };
}
pub(super) use bind_new_code;

/// The code an approval creates. Its client, redirect URI, permissions and
/// challenge are those of the pending request it approves, read in the same
/// transaction that takes it.
#[derive(Clone, Copy)]
pub struct NewAuthCode {
    pub code_hash: SecretHash,
    pub user_id: i64,
    pub expires_at: i64,
    pub created_at: i64,
}

/// Where a listing of a user's keys stopped: the last key's creation time and id.
pub type KeyCursor = (i64, String);

#[derive(Debug, Clone)]
pub struct ApiKeyRecord {
    pub id: String,
    pub user_id: i64,
    pub identifier: String,
    pub permissions: PermissionSet,
    pub client_id: Option<String>,
    /// The issuing client's name, when the key came from one.
    pub client_name: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(FromRow)]
pub(super) struct ApiKeyRow {
    id: String,
    user_id: i64,
    identifier: String,
    permissions: i64,
    client_id: Option<String>,
    client_name: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKeyRecord {
    fn from(r: ApiKeyRow) -> Self {
        ApiKeyRecord {
            id: r.id,
            user_id: r.user_id,
            identifier: r.identifier,
            permissions: PermissionSet::from_bits(r.permissions),
            client_id: r.client_id,
            client_name: r.client_name,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

#[derive(Clone)]
pub struct NewApiKey {
    pub id: String,
    pub token_hash: SecretHash,
    pub user_id: i64,
    pub identifier: String,
    pub permissions: PermissionSet,
    pub client_id: Option<String>,
    pub created_at: i64,
}

impl NewApiKey {
    /// The record of a key just inserted.
    pub fn into_record(self) -> ApiKeyRecord {
        ApiKeyRecord {
            id: self.id,
            user_id: self.user_id,
            identifier: self.identifier,
            permissions: self.permissions,
            client_id: self.client_id,
            client_name: None,
            created_at: self.created_at,
            last_used_at: None,
        }
    }
}

/// What bearer validation needs, from one indexed lookup.
#[derive(Debug, Clone)]
pub struct BearerKey {
    pub key_id: String,
    pub user_id: i64,
    pub username: String,
    pub permissions: PermissionSet,
    pub client_id: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub is_admin: bool,
    pub is_banned: bool,
}

#[derive(FromRow)]
pub(super) struct BearerRow {
    key_id: String,
    user_id: i64,
    username: String,
    permissions: i64,
    client_id: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    is_admin: bool,
    is_banned: bool,
}

impl From<BearerRow> for BearerKey {
    fn from(r: BearerRow) -> Self {
        BearerKey {
            key_id: r.key_id,
            user_id: r.user_id,
            username: r.username,
            permissions: PermissionSet::from_bits(r.permissions),
            client_id: r.client_id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            is_admin: r.is_admin,
            is_banned: r.is_banned,
        }
    }
}
