//! The JSON API under `/api/v1`: thin handlers that extract, call one
//! service function and wrap its result in the envelope.

mod auth;
mod clients;
mod keys;
mod oauth;
mod status;
mod users;
pub mod views;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};

use super::AppState;
use super::envelope::ApiError;

pub use oauth::JsonOrForm;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(auth::register))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/status", get(status::get).post(status::post))
        .route("/users/{user_id}", get(users::get).patch(users::patch))
        .route("/users/{user_id}/api-tokens", get(keys::list))
        .route("/users/{user_id}/api-tokens/create", post(keys::create))
        .route("/users/{user_id}/api-tokens/{key_id}", delete(keys::revoke))
        .route("/clients", get(clients::list))
        .route("/clients/create", post(clients::create))
        .route("/clients/{client_id}", get(clients::get).patch(clients::edit).delete(clients::delete))
        .route("/clients/{client_id}/reset-secret", post(clients::reset_secret))
        .route("/oauth/create-code", post(oauth::create_code))
        .route("/oauth/token", post(oauth::token))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "no such API route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not accept that method")
        })
}
