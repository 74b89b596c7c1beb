//! `/api/v1/auth/*`: registration, login and logout.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::views::UserView;
use crate::http::AppState;
use crate::http::envelope::{ApiError, ApiOk};
use crate::http::extract::{ApiJson, Auth, ClientIp, is_cross_site};
use crate::service::ServiceError;
use crate::service::accounts::{Credentials, NewSession, Registration};

/// Login CSRF: a cross-site page must not be able to log a visitor into an
/// account of the attacker's choosing.
fn refuse_cross_site(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if is_cross_site(headers, state.web.https) {
        return Err(ServiceError::Forbidden("cross-site login and registration requests are refused".into()).into());
    }
    Ok(())
}

fn with_cookie(state: &AppState, session: &NewSession, ok: impl IntoResponse) -> Response {
    let mut res = ok.into_response();
    if let Ok(v) = HeaderValue::from_str(&state.web.session_set_cookie(session.cookie.expose())) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(r): ApiJson<Registration>,
) -> Result<Response, ApiError> {
    refuse_cross_site(&state, &headers)?;
    let session = state.svc.register(r, &ip).await?;
    let body = ApiOk(format!("Registered {} and logged in.", session.user.username), UserView::from(&session.user));
    Ok(with_cookie(&state, &session, body))
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    ApiJson(c): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    refuse_cross_site(&state, &headers)?;
    let session = state.svc.login(c, &ip).await?;
    let body = ApiOk(format!("Logged in as {}.", session.user.username), json!({ "userID": session.user.id }));
    Ok(with_cookie(&state, &session, body))
}

pub async fn logout(State(state): State<AppState>, Auth(caller): Auth) -> Result<Response, ApiError> {
    state.svc.logout(&caller).await?;
    let mut res = ApiOk("Logged out.".into(), json!({})).into_response();
    if let Ok(v) = HeaderValue::from_str(&state.web.session_clear_cookie()) {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}
