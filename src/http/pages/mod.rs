//! The HTML pages: log in, register, consent, Client File Flow and the
//! dashboard. Templates are in `templates/`, compiled and checked by askama;
//! errors become an HTML page in one place (`PageError`).

mod account;
mod consent;
mod dashboard;
mod device;
mod file_flow;
mod recovery;

pub(super) use account::prelogin;

use askama::Template;
use axum::Router;
use axum::extract::rejection::{FormRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::CookieJar;

use super::AppState;
use super::extract::session_cookie;
use crate::domain::Permission;
use crate::service::auth::CallerUser;
use crate::service::clients::UNKNOWN_CLIENT;
use crate::service::{Caller, ServiceError, Via};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard::show))
        .route("/login", get(account::login_form).post(account::login))
        .route("/register", get(account::register_form).post(account::register))
        .route("/logout", get(account::logout_form).post(account::logout))
        .route("/forgot-password", get(recovery::forgot_form).post(recovery::forgot))
        .route("/reset-password", get(recovery::reset_form).post(recovery::reset))
        .route("/verify-email", get(recovery::verify_form).post(recovery::verify))
        .route("/account/password", post(dashboard::change_password))
        .route("/account/resend-verification", post(dashboard::resend_verification))
        .route("/oauth/request-auth", get(consent::request_auth))
        .route("/oauth/authorize", get(consent::authorize))
        .route("/oauth/consent", post(consent::answer))
        .route("/device", get(device::show).post(device::enter))
        .route("/device/answer", post(device::answer))
        .route("/client-file-flow/{client_id}", get(file_flow::show).post(file_flow::create))
        .route("/clients", post(dashboard::create_client))
        .route("/clients/{client_id}/edit", post(dashboard::edit_client))
        .route("/clients/{client_id}/reset-secret", post(dashboard::reset_secret))
        .route("/clients/{client_id}/rotate-webhook-secret", post(dashboard::rotate_webhook_secret))
        .route("/clients/{client_id}/delete", post(dashboard::delete_client))
        .route("/keys/{key_id}/revoke", post(dashboard::revoke_key))
        .route("/static/style.css", get(|| asset("text/css", include_str!("../../../static/style.css"))))
        .route("/static/app.js", get(|| asset("text/javascript", include_str!("../../../static/app.js"))))
}

/// Any other address: a page saying so (the API has its own answer: `http::not_found`).
pub(super) fn not_found() -> PageError {
    PageError::Message {
        status: StatusCode::NOT_FOUND,
        heading: "Page not found",
        message: "There is no page at this address. Check the link, or start again from your dashboard.".into(),
    }
}

async fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut res = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    res
}

/// What went wrong on a page, as the browser should see it.
#[derive(Debug)]
pub enum PageError {
    /// A page explaining the problem, with its status code.
    Message { status: StatusCode, heading: &'static str, message: String },
    /// Not logged in: go to the login page, then come back to `next`.
    Login { next: String },
}

impl PageError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        PageError::Message { status: StatusCode::BAD_REQUEST, heading: "That did not work", message: message.into() }
    }
}

impl From<ServiceError> for PageError {
    fn from(e: ServiceError) -> Self {
        let (status, heading) = match &e {
            ServiceError::Invalid(_) => (StatusCode::BAD_REQUEST, "That did not work"),
            ServiceError::Unauthenticated(_) | ServiceError::InvalidToken(_) => {
                (StatusCode::UNAUTHORIZED, "Please log in")
            }
            ServiceError::Forbidden(_) | ServiceError::InsufficientScope(_) => (StatusCode::FORBIDDEN, "Not allowed"),
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, "Not found"),
            ServiceError::Conflict(_) => (StatusCode::CONFLICT, "That did not work"),
            ServiceError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
            ServiceError::Unavailable | ServiceError::Busy => {
                (StatusCode::SERVICE_UNAVAILABLE, "Temporarily unavailable")
            }
            ServiceError::Unsupported(_) => (StatusCode::NOT_IMPLEMENTED, "Not available here"),
            ServiceError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
        };
        PageError::Message { status, heading, message: for_people(&e) }
    }
}

impl From<FormRejection> for PageError {
    fn from(r: FormRejection) -> Self {
        PageError::bad_request(format!("The form could not be read: {}", r.body_text()))
    }
}

impl From<axum_extra::extract::FormRejection> for PageError {
    fn from(r: axum_extra::extract::FormRejection) -> Self {
        PageError::bad_request(format!("The form could not be read: {}", r.body_text()))
    }
}

impl From<QueryRejection> for PageError {
    fn from(r: QueryRejection) -> Self {
        PageError::bad_request(format!("The link's parameters are not valid: {}", r.body_text()))
    }
}

impl From<PathRejection> for PageError {
    fn from(r: PathRejection) -> Self {
        PageError::bad_request(format!("The address is not valid: {}", r.body_text()))
    }
}

/// The page for a link that names an application which does not exist: the
/// consent links and the Client File Flow's say the same.
pub(super) fn unknown_client(status: StatusCode) -> PageError {
    PageError::Message { status, heading: "This link does not work", message: UNKNOWN_CLIENT.into() }
}

/// A service's answer, written for a person reading a form: the API's
/// field names become the form's labels, and the text is a sentence. The
/// API keeps its own wording (clients match on it).
pub fn for_people(e: &ServiceError) -> String {
    sentence(&e.to_string())
}

fn sentence(text: &str) -> String {
    /// The API's names of the form's fields, wherever they appear.
    const FIELDS: [(&str, &str); 6] = [
        ("redirectUri", "the redirect URI"),
        ("webhookUri", "the webhook URI"),
        ("apiKeyFormat", "the key file's contents"),
        ("apiKeyFilename", "the key file's name"),
        ("!oldPassword", "your current password"),
        ("!password", "the password"),
    ];
    /// Messages that begin with a bare field name.
    const SUBJECTS: [(&str, &str); 4] = [
        ("name ", "the name "),
        ("password ", "the password "),
        ("email ", "the e-mail address "),
        ("permissions must name", "choose"),
    ];
    let mut text = text.trim().to_owned();
    for (api, label) in FIELDS {
        text = text.replace(api, label);
    }
    for (api, label) in SUBJECTS {
        if let Some(rest) = text.strip_prefix(api) {
            text = format!("{label}{rest}");
        }
    }
    let mut chars = text.chars();
    let Some(first) = chars.next() else { return text };
    let mut out: String = first.to_uppercase().chain(chars).collect();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct MessagePage<'a> {
    pub site: &'a str,
    pub heading: &'a str,
    pub message: &'a str,
}

/// An error page's words, carried on the response so that
/// [`with_site_name`] can render it with the configured site name.
#[derive(Clone, Debug)]
struct ErrorPage {
    heading: &'static str,
    message: String,
}

/// Renders an error page, whose words a handler left on its response (see
/// [`PageError`]'s `into_response`), with the site's configured name: called
/// by `http::router`'s middleware, where the settings are at hand. Any other
/// response passes through.
pub fn with_site_name(site_name: &str, res: Response) -> Response {
    let Some(page) = res.extensions().get::<ErrorPage>() else {
        return res;
    };
    let named = render(&MessagePage { site: site_name, heading: page.heading, message: &page.message });
    let (mut parts, _) = res.into_parts();
    let (named_parts, body) = named.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(named_parts.headers);
    parts.extensions.remove::<ErrorPage>();
    if named_parts.status != StatusCode::OK {
        parts.status = named_parts.status;
    }
    Response::from_parts(parts, body)
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Login { next } => Redirect::to(&format!(
                "/login?next={}",
                url::form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
            ))
            .into_response(),
            PageError::Message { status, heading, message } => {
                // The site name is not at hand here: the page is rendered
                // once, by `with_site_name`, from these words.
                let mut res = status.into_response();
                res.extensions_mut().insert(ErrorPage { heading, message });
                if status == StatusCode::TOO_MANY_REQUESTS {
                    res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
                }
                res
            }
        }
    }
}

pub type PageResult = Result<Response, PageError>;

pub fn render(t: &impl Template) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// The logged-in user of a page, with the token their forms must carry.
pub struct PageUser {
    pub caller: Caller,
    pub user: CallerUser,
    pub csrf: String,
}

/// Authenticates a page request by its session cookie; not logged in means
/// "log in, then come back to `here`".
pub async fn page_user(state: &AppState, jar: &CookieJar, here: &str) -> Result<PageUser, PageError> {
    let caller = match session_cookie(jar, state) {
        Some(value) => state.svc.session_caller(value).await?,
        None => None,
    };
    match caller {
        Some(caller) => {
            let (Some(user), Via::Session { csrf_token, .. }) = (caller.user.clone(), &caller.via) else {
                return Err(PageError::Login { next: safe_next(here) });
            };
            let csrf = csrf_token.clone();
            Ok(PageUser { caller, user, csrf })
        }
        None => Err(PageError::Login { next: safe_next(here) }),
    }
}

/// Only local paths are accepted as a place to return to after login, so
/// the login page cannot be used as an open redirect.
pub fn safe_next(next: &str) -> String {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 4000
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if local { next.to_owned() } else { "/".to_owned() }
}

/// Each permission's name and plain-words meaning, for the pages.
pub fn permission_lines(perms: impl Iterator<Item = Permission>) -> Vec<(&'static str, &'static str)> {
    perms.map(|p| (p.as_str(), p.describe())).collect()
}

/// The first letter of a name, for the round badge that stands for an app.
pub fn initial(name: &str) -> String {
    name.chars().find(|c| c.is_alphanumeric()).map_or_else(|| "?".to_owned(), |c| c.to_uppercase().collect())
}

/// "2026-11-23 06:55 UTC" from unix milliseconds.
pub fn format_time(ms: i64) -> String {
    let t = crate::domain::clock::CivilTime::from_unix_ms(ms);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", t.year, t.month, t.day, t.hour, t.minute)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_must_be_a_local_path() {
        assert_eq!(safe_next("/oauth/request-auth?clientID=CI1"), "/oauth/request-auth?clientID=CI1");
        for bad in ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)", ""] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }

    #[test]
    fn form_errors_are_sentences_with_the_forms_words() {
        assert_eq!(
            sentence("redirectUri must be an http or https URL"),
            "The redirect URI must be an http or https URL."
        );
        assert_eq!(sentence("wrong username or password"), "Wrong username or password.");
        assert_eq!(
            sentence("password must be at least 8 characters long"),
            "The password must be at least 8 characters long."
        );
        assert_eq!(sentence("permissions must name at least one permission"), "Choose at least one permission.");
        assert_eq!(sentence("You are not logged in."), "You are not logged in.");
    }

    #[test]
    fn times_are_readable() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(1_795_000_000_000), "2026-11-18 11:06 UTC");
    }
}
