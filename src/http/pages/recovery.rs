//! `/forgot-password`, `/reset-password?code=…` and `/verify-email?code=…`:
//! the pages a mail's link leads to. Their forms carry the pre-login token
//! (see `account`), like the login form. Opening a link changes nothing:
//! the page's button does, so a mail scanner following links cannot use a
//! code up.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::account::{logged_in, prelogin, with_cookie};
use super::{MessagePage, PageResult, for_people, render};
use crate::http::AppState;
use crate::http::extract::{ClientIp, PageForm, Prelogin};
use crate::service::ServiceError;
use crate::service::recovery::{ForgotPassword, PasswordReset, VerifyEmail};

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    site: &'a str,
    csrf: &'a str,
    mail: bool,
    email: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    site: &'a str,
    csrf: &'a str,
    code: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyPage<'a> {
    site: &'a str,
    csrf: &'a str,
    code: &'a str,
    error: Option<String>,
}

fn status_of(e: &ServiceError) -> StatusCode {
    match e {
        ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
        ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        ServiceError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        ServiceError::Unavailable | ServiceError::Busy => StatusCode::SERVICE_UNAVAILABLE,
        ServiceError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn with_status(mut res: Response, status: StatusCode) -> Response {
    *res.status_mut() = status;
    res
}

fn message(state: &AppState, heading: &str, text: &str) -> Response {
    render(&MessagePage { site: &state.web.site_name, heading, message: text })
}

pub async fn forgot_form(State(state): State<AppState>, jar: CookieJar) -> Response {
    let (csrf, cookie) = prelogin(&state, &jar);
    let mail = state.svc.mailer.is_some();
    let page = ForgotPage { site: &state.web.site_name, csrf: &csrf, mail, email: "", error: None };
    with_cookie(render(&page), cookie)
}

#[derive(Deserialize)]
pub struct ForgotForm {
    email: String,
}

pub async fn forgot(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    form: PageForm<ForgotForm, Prelogin>,
) -> PageResult {
    let PageForm { sender: Prelogin { csrf, set_cookie: cookie }, fields: f } = form;
    match state.svc.forgot_password(ForgotPassword { email: f.email.clone() }, &ip).await {
        Ok(()) => Ok(message(
            &state,
            "Check your mail",
            "If an account has this address, a link to choose a new password is on its way to it. \
             It works once, for a limited time.",
        )),
        Err(e) => {
            let status = status_of(&e);
            let page = ForgotPage {
                site: &state.web.site_name,
                csrf: &csrf,
                mail: state.svc.mailer.is_some(),
                email: &f.email,
                error: Some(for_people(&e)),
            };
            Ok(with_status(with_cookie(render(&page), cookie), status))
        }
    }
}

#[derive(Deserialize)]
pub struct CodeQuery {
    code: Option<String>,
}

pub async fn reset_form(State(state): State<AppState>, jar: CookieJar, Query(q): Query<CodeQuery>) -> Response {
    let (csrf, cookie) = prelogin(&state, &jar);
    let code = q.code.unwrap_or_default();
    with_cookie(render(&ResetPage { site: &state.web.site_name, csrf: &csrf, code: &code, error: None }), cookie)
}

#[derive(Deserialize)]
pub struct ResetForm {
    code: String,
    password: String,
}

/// A new password set: the user is logged in (every other session ended).
pub async fn reset(State(state): State<AppState>, form: PageForm<ResetForm, Prelogin>) -> PageResult {
    let PageForm { sender: Prelogin { csrf, set_cookie: cookie }, fields: f } = form;
    let outcome = state.svc.reset_password(PasswordReset { code: f.code.clone(), password: f.password }).await;
    match outcome {
        Ok(user) => {
            let session = state.svc.open_session(user).await?;
            Ok(logged_in(&state, &session, "/?notice=password-reset"))
        }
        Err(e) => {
            let status = status_of(&e);
            let error = match &e {
                ServiceError::NotFound(_) => {
                    "This link has expired or was already used. Ask for a new one from the login page.".to_owned()
                }
                e => for_people(e),
            };
            let page = ResetPage { site: &state.web.site_name, csrf: &csrf, code: &f.code, error: Some(error) };
            Ok(with_status(with_cookie(render(&page), cookie), status))
        }
    }
}

pub async fn verify_form(State(state): State<AppState>, jar: CookieJar, Query(q): Query<CodeQuery>) -> Response {
    let (csrf, cookie) = prelogin(&state, &jar);
    let code = q.code.unwrap_or_default();
    with_cookie(render(&VerifyPage { site: &state.web.site_name, csrf: &csrf, code: &code, error: None }), cookie)
}

#[derive(Deserialize)]
pub struct VerifyForm {
    code: String,
}

pub async fn verify(State(state): State<AppState>, form: PageForm<VerifyForm, Prelogin>) -> PageResult {
    let PageForm { sender: Prelogin { csrf, set_cookie: cookie }, fields: f } = form;
    match state.svc.verify_email(VerifyEmail { code: f.code.clone() }).await {
        Ok(_) => Ok(message(&state, "E-mail address verified", "Thank you: your e-mail address is verified.")),
        Err(e) => {
            let status = status_of(&e);
            let error = match &e {
                ServiceError::NotFound(_) => {
                    "This link has expired or was already used. Send a new one from your dashboard.".to_owned()
                }
                e => for_people(e),
            };
            let page = VerifyPage { site: &state.web.site_name, csrf: &csrf, code: &f.code, error: Some(error) };
            Ok(with_status(with_cookie(render(&page), cookie), status))
        }
    }
}
