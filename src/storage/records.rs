//! Rows as the database holds them, each decoded into its domain entity
//! (`domain::entities`) in one place, and the column lists and binders the
//! statements share.

use sqlx::FromRow;

use crate::domain::{
    ApiKey, AuthCode, BearerKey, Client, PendingRequest, PermissionSet, RequestId, SecretHash, Session, User,
};

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

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
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

#[derive(FromRow)]
pub(super) struct SessionUserRow {
    pub user_id: i64,
    pub username: String,
    pub is_admin: bool,
    pub is_banned: bool,
    pub expires_at: i64,
}

impl From<SessionUserRow> for Session {
    fn from(r: SessionUserRow) -> Self {
        Session {
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

impl From<ClientRow> for Client {
    fn from(r: ClientRow) -> Self {
        Client {
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
            id: RequestId::from_bytes(&r.request_id).unwrap_or(RequestId::NONE),
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

impl From<ApiKeyRow> for ApiKey {
    fn from(r: ApiKeyRow) -> Self {
        ApiKey {
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
