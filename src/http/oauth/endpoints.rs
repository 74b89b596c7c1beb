//! The standard endpoints' handlers: extract, authenticate the client, call
//! the service, answer in the RFC's shape. The rules are in `service::oauth`
//! and `service::token_admin`; errors become RFC 6749 §5.2 in `error.rs`.

use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;
use serde_json::json;

use super::client_auth::client_credentials;
use super::error::{OAuthError, no_store};
use crate::domain::Client;
use crate::domain::{Permission, PermissionSet, device};
use crate::http::AppState;
use crate::http::extract::ClientIp;
use crate::service::oauth::{ExchangedKey, TokenRequest};

type OAuthResult = Result<Response, OAuthError>;

/// No `Debug`: it holds the client secret and the code.
#[derive(Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    /// The device grant's (RFC 8628 §3.4).
    device_code: Option<String>,
}

/// `POST /oauth/token` (RFC 6749 §4.1.3, §5.1; RFC 7636 §4.5; RFC 8628 §3.4).
pub async fn token(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> OAuthResult {
    let Form(f) = form?;
    let creds = client_credentials(&headers, f.client_id, f.client_secret)?;
    if f.grant_type.as_deref() == Some(device::GRANT_TYPE) {
        let issued = state.svc.poll_device_code(&creds, f.device_code.as_deref(), &ip).await?;
        return Ok(key_answer(&issued));
    }
    // The grant's scope is the one the user approved; a scope sent here may
    // only name permissions that exist.
    if let Some(scope) = f.scope.as_deref().filter(|s| !s.trim().is_empty()) {
        PermissionSet::parse_scope(scope).map_err(|e| OAuthError::invalid_scope(e.to_string()))?;
    }
    let req = TokenRequest {
        grant_type: f.grant_type,
        code: f.code,
        redirect_uri: f.redirect_uri.filter(|r| !r.is_empty()),
        code_verifier: f.code_verifier.filter(|v| !v.is_empty()),
        redirect_uri_required: false,
    };
    let issued = state.svc.exchange_code(Some(creds), req, &ip).await?;
    Ok(key_answer(&issued))
}

/// The token endpoint's answer with a key, whichever grant issued it.
fn key_answer(issued: &ExchangedKey) -> Response {
    let mut res = Json(json!({
        "access_token": issued.token.expose(),
        "token_type": "Bearer",
        "scope": issued.key.permissions.to_scope(),
    }))
    .into_response();
    no_store(res.headers_mut());
    res
}

/// The body of a device authorization request (RFC 8628 §3.1). No `Debug`.
#[derive(Deserialize)]
pub struct DeviceAuthorizationForm {
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// `POST /oauth/device_authorization` (RFC 8628 §3.1, §3.2).
pub async fn device_authorization(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<DeviceAuthorizationForm>, FormRejection>,
) -> OAuthResult {
    let Form(f) = form?;
    let creds = client_credentials(&headers, f.client_id, f.client_secret)?;
    let started = state.svc.start_device_authorization(&creds, f.scope.as_deref(), &ip).await?;
    let verification_uri = format!("{}/device", state.web.issuer());
    let user_code = started.user_code.display();
    let complete = format!("{verification_uri}?user_code={user_code}");
    let mut res = Json(json!({
        "device_code": started.device_code.expose(),
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": complete,
        "expires_in": started.expires_in,
        "interval": started.interval,
    }))
    .into_response();
    no_store(res.headers_mut());
    Ok(res)
}

/// The body of revocation and introspection requests. No `Debug`.
#[derive(Deserialize)]
pub struct TokenParamForm {
    token: Option<String>,
    /// Accepted and not needed: a key is the only kind of token there is.
    #[allow(dead_code)]
    token_type_hint: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// Authenticates the calling client and returns it with the `token` parameter.
async fn client_and_token(
    state: &AppState,
    ip: &str,
    headers: &HeaderMap,
    form: Result<Form<TokenParamForm>, FormRejection>,
) -> Result<(Client, String), OAuthError> {
    let Form(f) = form?;
    let creds = client_credentials(headers, f.client_id, f.client_secret)?;
    let client = state.svc.authenticate_client(&creds, ip).await?;
    let token = f.token.filter(|t| !t.is_empty()).ok_or_else(|| OAuthError::invalid_request("token is missing"))?;
    Ok((client, token))
}

/// `POST /oauth/revoke` (RFC 7009): 200 whether or not the token was live
/// and the client's, so the answer reveals nothing.
pub async fn revoke(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<TokenParamForm>, FormRejection>,
) -> OAuthResult {
    let (client, token) = client_and_token(&state, &ip, &headers, form).await?;
    state.svc.revoke_client_token(&client, &token).await?;
    let mut res = ().into_response();
    no_store(res.headers_mut());
    Ok(res)
}

/// `POST /oauth/introspect` (RFC 7662): a client learns about its own keys only.
pub async fn introspect(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    form: Result<Form<TokenParamForm>, FormRejection>,
) -> OAuthResult {
    let (client, token) = client_and_token(&state, &ip, &headers, form).await?;
    let body = match state.svc.introspect(&client, &token).await? {
        Some(t) => json!({
            "active": true,
            "scope": t.permissions.to_scope(),
            "client_id": t.client_id,
            "username": t.username,
            "sub": t.user_id.to_string(),
            "token_type": "Bearer",
            "iat": t.created_at.div_euclid(1000),
        }),
        None => json!({ "active": false }),
    };
    let mut res = Json(body).into_response();
    no_store(res.headers_mut());
    Ok(res)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414): exactly what
/// this server supports.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let issuer = state.web.issuer();
    // `none`: a public client sends its client_id alone (RFC 8252 §8.4).
    let auth_methods = ["client_secret_basic", "client_secret_post", "none"];
    let scopes: Vec<&str> = Permission::ALL.iter().map(|p| p.as_str()).collect();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "device_authorization_endpoint": format!("{issuer}/oauth/device_authorization"),
        "introspection_endpoint": format!("{issuer}/oauth/introspect"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", device::GRANT_TYPE],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": scopes,
        "authorization_response_iss_parameter_supported": true,
    }))
    .into_response()
}
