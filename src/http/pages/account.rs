//! `/login`, `/register`, `/logout`.
//!
//! The login and register forms are protected against login CSRF by a
//! pre-login cookie: the form's token is derived from it, so a page on
//! another site cannot post a valid form.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::{PageError, PageResult, for_people, page_user, render, safe_next};
use crate::domain::{PlainSecret, SecretKind};
use crate::http::AppState;
use crate::http::extract::{ClientIp, NoFields, PageForm, Prelogin, session_cookie};
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
    /// The user this browser is logged in as already, if it is.
    logged_in_as: Option<String>,
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
pub(in crate::http) fn prelogin(state: &AppState, jar: &CookieJar) -> (String, Option<String>) {
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
    // A session that does not answer (ended, or the database away) is no
    // reason to refuse the login form: it is shown as for anyone.
    let logged_in_as = match session_cookie(&jar, &state) {
        Some(value) => state.svc.session_caller(value).await.ok().flatten().and_then(|c| c.user).map(|u| u.username),
        None => None,
    };
    let page =
        LoginPage { site: &state.web.site_name, logged_in_as, csrf: &csrf, next: &next, username: "", error: None };
    with_cookie(render(&page), cookie)
}

#[derive(Deserialize)]
pub struct LoginForm {
    next: Option<String>,
    username: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: PageForm<LoginForm, Prelogin>,
) -> PageResult {
    let PageForm { sender: Prelogin { csrf, set_cookie: cookie }, fields: f } = form;
    let next = safe_next(f.next.as_deref().unwrap_or("/"));
    match state.svc.login(Credentials { username: f.username.clone(), password: f.password }, &ip).await {
        Ok(session) => Ok(logged_in(&state, &session, &next)),
        Err(e) => {
            let status = status_of(&e);
            let page = LoginPage {
                site: &state.web.site_name,
                logged_in_as: None,
                csrf: &csrf,
                next: &next,
                username: &f.username,
                error: Some(for_people(&e)),
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
    next: Option<String>,
    username: String,
    email: String,
    password: String,
}

pub async fn register(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: PageForm<RegisterForm, Prelogin>,
) -> PageResult {
    let PageForm { sender: Prelogin { csrf, set_cookie: cookie }, fields: f } = form;
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
                error: Some(for_people(&e)),
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

pub async fn logout(State(state): State<AppState>, form: Result<PageForm<NoFields>, PageError>) -> PageResult {
    let user = match form {
        Ok(PageForm { sender, .. }) => sender,
        // Logged out already: the login page is where logging out ends.
        Err(PageError::Login { .. }) => return Ok(Redirect::to("/login").into_response()),
        Err(e) => return Err(e),
    };
    state.svc.logout(&user.caller).await?;
    Ok(with_cookie(Redirect::to("/login").into_response(), Some(state.web.session_clear_cookie())))
}
