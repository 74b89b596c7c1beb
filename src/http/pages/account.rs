//! `/login`, `/register`, `/logout`.
//!
//! The login and register forms are protected against login CSRF by a
//! pre-login cookie: the form's token is derived from it, so a page on
//! another site cannot post a valid form.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{PageError, PageResult, check_form, page_user, render, safe_next};
use crate::domain::{PlainSecret, SecretKind};
use crate::http::AppState;
use crate::http::extract::ClientIp;
use crate::service::ServiceError;
use crate::service::accounts::{Credentials, NewSession, Registration};

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    site: &'a str,
    csrf: &'a str,
    next: &'a str,
    username: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage<'a> {
    site: &'a str,
    csrf: &'a str,
    next: &'a str,
    username: &'a str,
    email: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct LogoutPage<'a> {
    site: &'a str,
    csrf: &'a str,
}

/// The browser's pre-login secret, created if it has none yet; returns the
/// form token and the cookie to set, if new.
pub(super) fn prelogin(state: &AppState, jar: &CookieJar) -> (String, Option<String>) {
    match jar.get(&state.web.prelogin_cookie_name).map(|c| c.value()).filter(|v| !v.is_empty() && v.len() <= 100) {
        Some(v) => (PlainSecret::from_presented(v).csrf_token(), None),
        None => {
            let fresh = PlainSecret::generate(SecretKind::Csrf);
            (fresh.csrf_token(), Some(state.web.prelogin_set_cookie(fresh.expose())))
        }
    }
}

pub(super) fn with_cookie(mut res: Response, cookie: Option<String>) -> Response {
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
        ServiceError::Forbidden(_) => StatusCode::FORBIDDEN,
        ServiceError::Conflict(_) => StatusCode::CONFLICT,
        ServiceError::Unavailable | ServiceError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Logged in: set the session cookie and go where the user was going.
pub(super) fn logged_in(state: &AppState, session: &NewSession, next: &str) -> Response {
    with_cookie(
        Redirect::to(&safe_next(next)).into_response(),
        Some(state.web.session_set_cookie(session.cookie.expose())),
    )
}

pub async fn login_form(State(state): State<AppState>, jar: CookieJar, Query(q): Query<NextQuery>) -> Response {
    let (csrf, cookie) = prelogin(&state, &jar);
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    let page = LoginPage { site: &state.web.site_name, csrf: &csrf, next: &next, username: "", error: None };
    with_cookie(render(&page), cookie)
}

#[derive(Deserialize)]
pub struct LoginForm {
    csrf: String,
    next: Option<String>,
    username: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let Form(f) = form?;
    let (csrf, cookie) = prelogin(&state, &jar);
    check_form(&state, &headers, &csrf, &f.csrf)?;
    let next = safe_next(f.next.as_deref().unwrap_or("/"));
    match state.svc.login(Credentials { username: f.username.clone(), password: f.password }, &ip).await {
        Ok(session) => Ok(logged_in(&state, &session, &next)),
        Err(e) => {
            let status = status_of(&e);
            let page = LoginPage {
                site: &state.web.site_name,
                csrf: &csrf,
                next: &next,
                username: &f.username,
                error: Some(e.to_string()),
            };
            let mut res = with_status(with_cookie(render(&page), cookie), status);
            if let Some(secs) = e.retry_after_secs() {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            Ok(res)
        }
    }
}

pub async fn register_form(State(state): State<AppState>, jar: CookieJar, Query(q): Query<NextQuery>) -> Response {
    let (csrf, cookie) = prelogin(&state, &jar);
    let next = safe_next(q.next.as_deref().unwrap_or("/"));
    let page =
        RegisterPage { site: &state.web.site_name, csrf: &csrf, next: &next, username: "", email: "", error: None };
    with_cookie(render(&page), cookie)
}

#[derive(Deserialize)]
pub struct RegisterForm {
    csrf: String,
    next: Option<String>,
    username: String,
    email: String,
    password: String,
}

pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    jar: CookieJar,
    headers: HeaderMap,
    form: Result<Form<RegisterForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let Form(f) = form?;
    let (csrf, cookie) = prelogin(&state, &jar);
    check_form(&state, &headers, &csrf, &f.csrf)?;
    let next = safe_next(f.next.as_deref().unwrap_or("/"));
    let r = Registration { username: f.username.clone(), password: f.password, email: f.email.clone() };
    match state.svc.register(r, &ip).await {
        Ok(session) => Ok(logged_in(&state, &session, &next)),
        Err(e) => {
            let page = RegisterPage {
                site: &state.web.site_name,
                csrf: &csrf,
                next: &next,
                username: &f.username,
                email: &f.email,
                error: Some(e.to_string()),
            };
            Ok(with_status(with_cookie(render(&page), cookie), status_of(&e)))
        }
    }
}

/// GET only asks: logging out changes state, so it takes a posted form.
pub async fn logout_form(State(state): State<AppState>, jar: CookieJar) -> PageResult {
    let user = page_user(&state, &jar, "/").await?;
    Ok(render(&LogoutPage { site: &state.web.site_name, csrf: &user.csrf }))
}

#[derive(Deserialize)]
pub struct CsrfForm {
    csrf: String,
}

pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, axum::extract::rejection::FormRejection>,
) -> PageResult {
    let Form(f) = form?;
    let user = match page_user(&state, &jar, "/").await {
        Ok(u) => u,
        Err(PageError::Login { .. }) => return Ok(Redirect::to("/login").into_response()),
        Err(e) => return Err(e),
    };
    check_form(&state, &headers, &user.csrf, &f.csrf)?;
    state.svc.logout(&user.caller).await?;
    Ok(with_cookie(Redirect::to("/login").into_response(), Some(state.web.session_clear_cookie())))
}
