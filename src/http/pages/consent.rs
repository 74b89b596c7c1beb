//! The consent screen: `/oauth/request-auth` (the seeds' link) and
//! `/oauth/authorize` (RFC 6749 §4.1.1) show it; `/oauth/consent` takes the
//! user's answer and sends the browser back to the client.

use askama::Template;
use axum::extract::{OriginalUri, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;
use url::Url;

use super::{PageError, PageResult, initial, page_user, permission_lines, render};
use crate::domain::{Decision, RequestId};
use crate::http::AppState;
use crate::http::extract::PageForm;
use crate::service::oauth::{Approve, AuthorizationParams, AuthorizeError};

/// The parameters of both consent links: the seeds' `/oauth/request-auth`
/// (`clientID`, `context`) and RFC 6749's `/oauth/authorize` (`client_id`,
/// `response_type`), each with the standard optional ones.
#[derive(Deserialize)]
pub struct AuthorizationQuery {
    response_type: Option<String>,
    #[serde(alias = "clientID")]
    client_id: Option<String>,
    context: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    scope: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
}

impl AuthorizationQuery {
    fn into_params(self, standard: bool) -> AuthorizationParams {
        AuthorizationParams {
            client_id: self.client_id,
            redirect_uri: self.redirect_uri,
            scope: self.scope,
            state: self.state,
            code_challenge: self.code_challenge,
            code_challenge_method: self.code_challenge_method,
            context: self.context,
            standard,
        }
    }
}

/// The one consent screen, for the code grant and the device grant alike.
#[derive(Template)]
#[template(path = "consent.html")]
pub(super) struct ConsentPage<'a> {
    pub site: &'a str,
    pub username: &'a str,
    pub csrf: &'a str,
    /// Where the answer is posted: `/oauth/consent`, or `/device/answer`.
    pub action: &'a str,
    pub client_id: &'a str,
    pub request_id: String,
    pub client_name: &'a str,
    pub initial: String,
    pub author: &'a str,
    /// The operator's own client (configured, not made by a user).
    pub builtin: bool,
    pub permissions: Vec<(&'static str, &'static str)>,
    pub redirect_host: String,
    /// `tachi-<name>` when the redirect sends the user to a program on their
    /// computer rather than to a website.
    pub program_scheme: Option<String>,
    /// The device grant's user code (`WDJB-MJHT`): the key goes to the
    /// program showing it, not to a redirect.
    pub user_code: Option<String>,
}

pub async fn request_auth(
    State(state): State<AppState>,
    jar: CookieJar,
    OriginalUri(uri): OriginalUri,
    query: Result<Query<AuthorizationQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(q) = query?;
    consent(&state, &jar, &uri.to_string(), q.into_params(false)).await
}

pub async fn authorize(
    State(state): State<AppState>,
    jar: CookieJar,
    OriginalUri(uri): OriginalUri,
    query: Result<Query<AuthorizationQuery>, axum::extract::rejection::QueryRejection>,
) -> PageResult {
    let Query(q) = query?;
    let response_type_ok = q.response_type.as_deref() == Some("code");
    let params = q.into_params(true);
    if !response_type_ok {
        // Only once the client and redirect are known good may the error go there.
        return match state.svc.check_authorization(params).await {
            Ok(c) => Ok(error_redirect(
                &c.request.redirect_uri,
                "unsupported_response_type",
                "response_type must be code",
                c.request.state.as_deref(),
                &state,
            )),
            Err(e) => authorize_error(e, true, &state),
        };
    }
    consent(&state, &jar, &uri.to_string(), params).await
}

async fn consent(state: &AppState, jar: &CookieJar, here: &str, params: AuthorizationParams) -> PageResult {
    let standard = params.standard;
    let checked = state.svc.check_authorization(params).await.map_err(|e| authorize_error(e, standard, state));
    let mut consent = match checked {
        Ok(c) => c,
        Err(Ok(redirect)) => return Ok(redirect),
        Err(Err(page)) => return Err(page),
    };
    let user = page_user(state, jar, here).await?;
    let request_id = state.svc.show_consent(&user.caller, &mut consent).await?;
    let redirect_host = Url::parse(&consent.request.redirect_uri)
        .ok()
        .and_then(|u| {
            let host = u.host_str()?;
            Some(match u.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            })
        })
        .unwrap_or_else(|| consent.request.redirect_uri.clone());
    let program_scheme = crate::domain::client::native_scheme(&consent.request.redirect_uri);
    Ok(render(&ConsentPage {
        site: &state.web.site_name,
        username: &user.user.username,
        csrf: &user.csrf,
        action: "/oauth/consent",
        client_id: &consent.client.client_id,
        request_id: request_id.to_hex(),
        client_name: &consent.client.name,
        initial: initial(&consent.client.name),
        author: &consent.author_name,
        builtin: consent.client.author_id.is_none(),
        permissions: permission_lines(consent.request.permissions.iter()),
        redirect_host,
        program_scheme,
        user_code: None,
    }))
}

/// Redirectable errors of the standard flow go back to the client; the rest
/// (and every error of the seeds' page) are shown here.
fn authorize_error(e: AuthorizeError, standard: bool, state: &AppState) -> Result<Response, PageError> {
    match e {
        AuthorizeError::NotRedirectable(message) => Err(PageError::Message {
            status: axum::http::StatusCode::BAD_REQUEST,
            heading: "This sign-in link does not work",
            message,
        }),
        AuthorizeError::Redirectable { redirect_uri, state: s, error, description } if standard => {
            Ok(error_redirect(&redirect_uri, error, &description, s.as_deref(), state))
        }
        AuthorizeError::Redirectable { description, .. } => Err(PageError::bad_request(description)),
        AuthorizeError::Service(e) => Err(e.into()),
    }
}

/// `redirect_uri?error=…&error_description=…&state=…&iss=…` (RFC 6749 §4.1.2.1, RFC 9207).
fn error_redirect(redirect_uri: &str, error: &str, description: &str, s: Option<&str>, state: &AppState) -> Response {
    let mut pairs = vec![("error", error), ("error_description", description)];
    if let Some(s) = s {
        pairs.push(("state", s));
    }
    let issuer = state.web.issuer();
    pairs.push(("iss", &issuer));
    redirect_with(redirect_uri, &pairs)
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> Response {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            Redirect::to(url.as_str()).into_response()
        }
        Err(_) => PageError::bad_request("the client's redirect URI is not a valid URL").into_response(),
    }
}

#[derive(Deserialize)]
pub struct ConsentForm {
    client_id: String,
    /// The pending request the page showed. A page rendered before requests
    /// had ids has none: then the only one pending for `client_id` is meant.
    request: Option<String>,
    decision: String,
}

pub async fn answer(State(state): State<AppState>, form: PageForm<ConsentForm>) -> PageResult {
    let PageForm { sender: user, fields: f } = form;
    let which = match f.request.as_deref().filter(|r| !r.is_empty()) {
        Some(id) => Approve::Shown(
            RequestId::parse(id).ok_or_else(|| PageError::bad_request("the form names no valid request"))?,
        ),
        None => Approve::Only { client_id: Some(&f.client_id) },
    };
    match Decision::parse(&f.decision) {
        Some(Decision::Approve) => {
            let issued = state.svc.create_code(&user.caller, which).await?;
            let r = &issued.request;
            let issuer = state.web.issuer();
            let mut pairs = vec![("code", issued.code.expose())];
            if let Some(s) = &r.state {
                pairs.push(("state", s));
            }
            if let Some(c) = &r.context {
                pairs.push(("context", c));
            }
            if r.standard {
                pairs.push(("iss", &issuer));
            }
            Ok(redirect_with(&r.redirect_uri, &pairs))
        }
        Some(Decision::Decline) => match state.svc.decline(&user.caller, which).await? {
            // The standard flow tells the client (RFC 6749 §4.1.2.1); the
            // seeds' flow sends nothing to the client's server.
            Some(r) if r.standard => {
                Ok(error_redirect(&r.redirect_uri, "access_denied", "the user declined", r.state.as_deref(), &state))
            }
            _ => Ok(Redirect::to("/?notice=declined").into_response()),
        },
        None => Err(PageError::bad_request("The answer must be approve or decline.")),
    }
}
