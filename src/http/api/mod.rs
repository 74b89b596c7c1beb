//! The JSON API under `/api/v1`: thin handlers that extract, call one
//! service function and wrap its result in the envelope.

mod auth;
mod clients;
mod keys;
mod oauth;
mod openapi;
mod recovery;
mod status;
mod users;
pub mod views;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

use super::AppState;
use super::envelope::ApiError;

/// Where the API lives. Its routes are registered with this prefix (`at`)
/// rather than `nest`ed: axum wraps every nested route in two more layers
/// (one rewrites the request's URI without the prefix, one records the
/// prefix in its extensions), allocations paid on every API request for a
/// prefix that never changes.
const PREFIX: &str = "/api/v1";

fn at(path: &str) -> String {
    format!("{PREFIX}{path}")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route(&at("/auth/register"), post(auth::register))
        .route(&at("/auth/login"), post(auth::login))
        .route(&at("/auth/logout"), post(auth::logout))
        .route(&at("/auth/forgot-password"), post(recovery::forgot_password))
        .route(&at("/auth/reset-password"), post(recovery::reset_password))
        .route(&at("/auth/verify-email"), post(recovery::verify_email))
        .route(&at("/auth/resend-verify-email"), post(recovery::resend_verify_email))
        .route(&at("/users/{user_id}/change-password"), post(recovery::change_password))
        .route(&at("/users/{user_id}/security-log"), get(recovery::security_log))
        .route(&at("/status"), get(status::get).post(status::post))
        .route(&at("/users/{user_id}"), get(users::get).patch(users::patch))
        .route(&at("/users/{user_id}/api-tokens"), get(keys::list))
        .route(&at("/users/{user_id}/api-tokens/create"), post(keys::create))
        .route(&at("/users/{user_id}/api-tokens/{key_id}"), delete(keys::revoke))
        .route(&at("/clients"), get(clients::list))
        .route(&at("/clients/create"), post(clients::create))
        .route(&at("/clients/{client_id}"), get(clients::get).patch(clients::edit).delete(clients::delete))
        .route(&at("/clients/{client_id}/reset-secret"), post(clients::reset_secret))
        .route(&at("/clients/{client_id}/rotate-webhook-secret"), post(clients::rotate_webhook_secret))
        .route(&at("/clients/{client_id}/webhook-deliveries"), get(clients::webhook_deliveries))
        .route(&at("/oauth/create-code"), post(oauth::create_code))
        .route(&at("/oauth/token"), post(oauth::token))
        .route(&at("/openapi.json"), get(openapi::get))
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not accept that method")
        })
}

/// Is `path` the API's, so that no route there still gets an envelope?
pub fn owns(path: &str) -> bool {
    path.strip_prefix(PREFIX).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The answer at an API address no route has.
pub fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such API route")
}
