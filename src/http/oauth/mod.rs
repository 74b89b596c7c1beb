//! The standard OAuth 2.0 endpoints beside the seeds' `/api/v1` routes, so
//! that ordinary client libraries work unchanged: token (RFC 6749 §3.2),
//! revocation (RFC 7009), introspection (RFC 7662), metadata (RFC 8414) and
//! device authorization (RFC 8628).
//! The authorization endpoint (`/oauth/authorize`) is a page, in `pages/`.

mod client_auth;
mod endpoints;
pub mod error;

use axum::Router;
use axum::routing::{get, post};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(endpoints::token))
        .route("/oauth/device_authorization", post(endpoints::device_authorization))
        .route("/oauth/revoke", post(endpoints::revoke))
        .route("/oauth/introspect", post(endpoints::introspect))
        .route("/.well-known/oauth-authorization-server", get(endpoints::metadata))
}
