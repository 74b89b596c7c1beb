//! `/device` (RFC 8628 §3.3): the player types the code a program or cabinet
//! shows, sees the consent screen of the other flows, and answers it. Not
//! logged in: log in first, then come back with the code still filled in.

use askama::Template;
use axum::extract::{OriginalUri, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::consent::ConsentPage;
use super::{PageError, PageResult, PageUser, initial, page_user, permission_lines, render};
use crate::http::AppState;
use crate::http::extract::{ClientIp, PageForm};
use crate::service::ServiceError;

#[derive(Template)]
#[template(path = "device.html")]
struct EntryPage<'a> {
    site: &'a str,
    username: &'a str,
    csrf: &'a str,
    code: &'a str,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "device_done.html")]
struct DonePage<'a> {
    site: &'a str,
    username: &'a str,
    client_name: &'a str,
    approved: bool,
    /// The client has an `apiKeyFormat`: the program writes its own file.
    sets_itself_up: bool,
}

#[derive(Deserialize)]
pub struct EntryQuery {
    user_code: Option<String>,
}

/// `GET /device[?user_code=…]`: the code entry form (filled in from
/// `verification_uri_complete`; the player still confirms it).
pub async fn show(
    State(state): State<AppState>,
    jar: CookieJar,
    OriginalUri(uri): OriginalUri,
    query: Result<Query<EntryQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(q) = query?;
    let user = page_user(&state, &jar, &uri.to_string()).await?;
    let code = shown(q.user_code.as_deref().unwrap_or_default());
    Ok(entry_page(&state, &user, &code, None))
}

/// What was typed, as the form shows it again: no longer than a code can be.
fn shown(typed: &str) -> String {
    typed.chars().take(20).collect()
}

fn entry_page(state: &AppState, user: &PageUser, code: &str, error: Option<String>) -> Response {
    render(&EntryPage { site: &state.web.site_name, username: &user.user.username, csrf: &user.csrf, code, error })
}

#[derive(Deserialize)]
pub struct EntryForm {
    user_code: String,
}

/// `POST /device`: the consent screen for the typed code, or the form again
/// saying the code is wrong.
pub async fn enter(State(state): State<AppState>, ClientIp(ip): ClientIp, form: PageForm<EntryForm>) -> PageResult {
    let PageForm { sender: user, fields: f } = form;
    let consent = match state.svc.device_consent(&user.caller, &f.user_code, &ip).await {
        Ok(c) => c,
        Err(e) => return wrong_code(&state, &user, &f.user_code, e),
    };
    let user_code = consent.user_code.display();
    Ok(render(&ConsentPage {
        site: &state.web.site_name,
        username: &user.user.username,
        csrf: &user.csrf,
        action: "/device/answer",
        client_id: &consent.client.client_id,
        request_id: String::new(),
        client_name: &consent.client.name,
        initial: initial(&consent.client.name),
        author: &consent.author_name,
        builtin: consent.client.author_id.is_none(),
        permissions: permission_lines(consent.permissions.iter()),
        redirect_host: String::new(),
        program_scheme: None,
        user_code: Some(user_code),
    }))
}

/// A wrong or expired code: the form again, with what was typed and why.
fn wrong_code(state: &AppState, user: &PageUser, typed: &str, e: ServiceError) -> PageResult {
    match e {
        ServiceError::Invalid(why) => {
            let mut res = entry_page(state, user, &shown(typed), Some(why));
            *res.status_mut() = StatusCode::BAD_REQUEST;
            Ok(res)
        }
        e => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct AnswerForm {
    user_code: String,
    decision: String,
}

/// `POST /device/answer`: approve or decline; the program learns it at its next poll.
pub async fn answer(State(state): State<AppState>, ClientIp(ip): ClientIp, form: PageForm<AnswerForm>) -> PageResult {
    let PageForm { sender: user, fields: f } = form;
    let approve = match f.decision.as_str() {
        "approve" => true,
        "decline" => false,
        _ => return Err(PageError::bad_request("decision must be approve or decline")),
    };
    let client = match state.svc.answer_device(&user.caller, &f.user_code, approve, &ip).await {
        Ok(c) => c,
        Err(e) => return wrong_code(&state, &user, &f.user_code, e),
    };
    Ok(render(&DonePage {
        site: &state.web.site_name,
        username: &user.user.username,
        client_name: &client.name,
        approved: approve,
        sets_itself_up: client.api_key_format.is_some(),
    }))
}
