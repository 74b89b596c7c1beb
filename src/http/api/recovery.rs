//! Keeping an account: `POST /users/:userID/change-password` and
//! `/auth/{forgot-password, reset-password, verify-email, resend-verify-email}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::http::AppState;
use crate::http::api::views::SecurityEventView;
use crate::http::envelope::{ApiError, ApiOk, ApiResult};
use crate::http::extract::{ApiJson, ApiQuery, Auth, ClientIp, PathUser};
use crate::service::recovery::{ForgotPassword, PasswordChange, PasswordReset, VerifyEmail};

pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    PathUser { caller, user }: PathUser,
    ApiJson(change): ApiJson<PasswordChange>,
) -> ApiResult<Value> {
    state.svc.change_password(&caller, user.id, change, &ip).await?;
    Ok(ApiOk("Successfully changed password.".into(), json!({})))
}

/// 202 whether or not the address is anyone's: the mail goes from the queue.
pub async fn forgot_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(f): ApiJson<ForgotPassword>,
) -> Result<Response, ApiError> {
    state.svc.forgot_password(f, &ip).await?;
    let mut res = ApiOk("A code has been sent to your email.".into(), json!({})).into_response();
    *res.status_mut() = StatusCode::ACCEPTED;
    Ok(res)
}

pub async fn reset_password(State(state): State<AppState>, ApiJson(r): ApiJson<PasswordReset>) -> ApiResult<Value> {
    state.svc.reset_password(r).await?;
    Ok(ApiOk("Reset your password. Log in with the new one.".into(), json!({})))
}

pub async fn verify_email(State(state): State<AppState>, ApiJson(v): ApiJson<VerifyEmail>) -> ApiResult<Value> {
    state.svc.verify_email(v).await?;
    Ok(ApiOk("Verified your email.".into(), json!({})))
}

pub async fn resend_verify_email(State(state): State<AppState>, Auth(caller): Auth) -> ApiResult<Value> {
    state.svc.resend_verify_email(&caller).await?;
    Ok(ApiOk("If your email is not verified yet, a new link is on its way.".into(), json!({})))
}

#[derive(serde::Deserialize)]
pub struct LogQuery {
    /// Events older than this one (the last id of the previous page).
    before: Option<i64>,
}

/// The user's own security log, newest first, a page at a time (session only).
pub async fn security_log(
    State(state): State<AppState>,
    PathUser { caller, user }: PathUser,
    ApiQuery(q): ApiQuery<LogQuery>,
) -> ApiResult<Vec<SecurityEventView>> {
    let (events, more) = state.svc.security_log(&caller, user.id, q.before).await?;
    let description = match (events.last(), more) {
        (Some(last), true) => format!("Found {} events; older ones: ?before={}.", events.len(), last.id),
        _ => format!("Found {} events.", events.len()),
    };
    Ok(ApiOk(description, events.into_iter().map(SecurityEventView::from).collect()))
}
