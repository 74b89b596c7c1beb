//! HTTP: the router, shared state and the middleware every response passes
//! through. `api/` is the JSON API, `pages/` the HTML pages, `oauth/` the
//! standard OAuth 2.0 endpoints.

pub mod api;
pub mod envelope;
pub mod extract;
pub mod oauth;
pub mod pages;
pub mod server;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::FutureExt;

use crate::service::Service;
use crate::telemetry::RequestId;

/// Request bodies larger than this are refused with 413: nothing the API
/// takes comes close.
pub const BODY_LIMIT: usize = 64 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub svc: Arc<Service>,
    pub web: Arc<WebSettings>,
}

/// What the HTTP layer needs beyond the service: cookie names and the
/// public URL (the issuer, and whether cookies are `Secure`).
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub public_url: url::Url,
    pub site_name: String,
    /// `<SiteName>_SESSION`.
    pub cookie_name: String,
    /// The pre-login cookie that ties the login form's CSRF token to a browser.
    pub prelogin_cookie_name: String,
    /// The public URL is https (TLS ends at a proxy in front of us): cookies
    /// are `Secure` and browsers are told to stay on https (HSTS).
    pub https: bool,
    pub session_max_age: Duration,
    /// The header a trusted reverse proxy puts the client's address in, if any.
    pub client_ip_header: Option<HeaderName>,
}

impl WebSettings {
    pub fn new(public_url: url::Url, site_name: &str, session_max_age: Duration) -> Self {
        let token: String = site_name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-').collect();
        let token = if token.is_empty() { "Tachi".to_owned() } else { token };
        WebSettings {
            https: public_url.scheme() == "https",
            public_url,
            site_name: site_name.to_owned(),
            cookie_name: format!("{token}_SESSION"),
            prelogin_cookie_name: format!("{token}_PRELOGIN"),
            session_max_age,
            client_ip_header: None,
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age_secs: u64) -> String {
        let secure = if self.https { "; Secure" } else { "" };
        format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
    }

    pub fn session_set_cookie(&self, value: &str) -> String {
        self.cookie(&self.cookie_name, value, self.session_max_age.as_secs())
    }

    pub fn session_clear_cookie(&self) -> String {
        self.cookie(&self.cookie_name, "", 0)
    }

    pub fn prelogin_set_cookie(&self, value: &str) -> String {
        self.cookie(&self.prelogin_cookie_name, value, 3600)
    }

    /// The issuer identifier (RFC 8414): the public URL without a trailing slash.
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }
}

pub fn router(state: AppState) -> Router {
    let web = state.web.clone();
    Router::new()
        .merge(api::router())
        .merge(oauth::router())
        .merge(pages::router())
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .fallback(not_found)
        .with_state(state)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(Finish(web))
}

/// Headers every document (a page, a redirect, a static file) carries unless
/// its handler set its own.
const SECURITY_HEADERS: [(HeaderName, HeaderValue); 6] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    ),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    (HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin")),
];

/// What a JSON answer carries instead: the same, but a policy that lets it
/// load nothing at all, and no opener policy, which only acts on documents
/// (OWASP's REST Security Cheat Sheet lists the rest for every API answer).
/// The page policy's sources mean nothing to JSON; its bytes and the opener
/// header were a fifth of every bearer answer, which the hot path
/// (`bench/run`, W1) pays for on both ends.
const API_SECURITY_HEADERS: [(HeaderName, HeaderValue); 5] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'")),
    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
];

/// The one middleware around every handler. It is a single layer, not one
/// per concern, because each tower layer costs a few microseconds on every
/// request and bearer validation is the hot path (`bench/run`, W1).
///
/// - A handler of a state-changing method (POST, PATCH, DELETE…) runs in its
///   own task, so a client that hangs up cannot cancel it halfway. A handler
///   dropped inside a database transaction can leave its pooled PostgreSQL
///   connection "idle in transaction" (seen under load by `bench/run`):
///   later statements on that connection, answered 200, were then never
///   committed, and its row locks were never released. A safe method (GET,
///   HEAD, OPTIONS) begins no transaction, which debug builds check
///   (`storage::droppable`), so it runs in place: the task cost the
///   bearer-validation hot path (`bench/run`, W1) ~9 % of its throughput.
/// - A panicking handler (a bug) does not end the server or the connection:
///   the caller gets the generic 500 envelope, nothing from the panic.
/// - Every request has an id: the trusted proxy's `X-Request-Id` (only
///   with `--client-ip-header`, i.e. behind a proxy that sets its headers),
///   else a random one. It is in the answer's `X-Request-Id` and in every
///   log line of the request (a task-local the log formatters read, see
///   `telemetry::log`).
/// - Every request is logged at info once answered, in one line: method,
///   route template (never the path: it is unbounded, and a query string
///   can carry codes and states), status, latency; a 5xx at error. The line
///   is formatted here and written by the logger's own thread (see
///   `telemetry`).
/// - With metrics on, the request is counted by route, method and status
///   class, and its latency recorded.
/// - Error pages are rendered again with the configured site name.
/// - The security headers are added: a document's set, or a JSON answer's.
async fn finish<F>(web: Arc<WebSettings>, call: Call, handler: F) -> Response
where
    F: Future<Output = Result<Response, std::convert::Infallible>> + Send + 'static,
{
    let Call { method, route, request_id, start } = call;
    let safe = matches!(method, Method::GET | Method::HEAD | Method::OPTIONS);
    let handler = async move {
        match handler.await {
            Ok(res) => res,
            Err(never) => match never {},
        }
    };
    // A handler run in a task of its own takes the request id along.
    let answer = if safe {
        run_handler(true, handler).await
    } else {
        run_handler(false, crate::telemetry::with_request_id(request_id.clone(), handler)).await
    };
    let res = match answer {
        Some(res) => pages::with_site_name(&web.site_name, res),
        None => envelope::ApiError::from(crate::service::ServiceError::Internal).into_response(),
    };
    let status = res.status().as_u16();
    let route = route.as_ref().map_or("(no route)", |r| r.as_str());
    let latency = start.elapsed();
    let latency_ms = latency.as_micros() as f64 / 1000.0;
    if res.status().is_server_error() {
        tracing::error!(%method, %route, status, latency_ms, "request failed");
    } else {
        tracing::info!(%method, %route, status, latency_ms, "request");
    }
    if crate::telemetry::metrics_on() {
        record_request(&method, route, status, latency);
    }
    let mut res = with_security_headers(res, web.https);
    res.headers_mut().insert(X_REQUEST_ID, request_id_header(&request_id));
    res
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn request_id_header(id: &RequestId) -> HeaderValue {
    match id {
        RequestId::Random(n) => {
            let mut hex = [0u8; 16];
            for (i, digit) in hex.iter_mut().enumerate() {
                *digit = b"0123456789abcdef"[((n >> (60 - 4 * i)) & 0xf) as usize];
            }
            HeaderValue::from_bytes(&hex).expect("hex digits are a valid header value")
        }
        RequestId::FromProxy(id) => HeaderValue::from_str(id).expect("checked by valid_request_id"),
    }
}

/// What [`finish`] needs of a request besides its handler.
struct Call {
    method: Method,
    route: Option<MatchedPath>,
    request_id: RequestId,
    start: std::time::Instant,
}

impl Call {
    fn of(req: &Request, web: &WebSettings) -> Call {
        let from_proxy = web
            .client_ip_header
            .as_ref()
            .and_then(|_| req.headers().get(X_REQUEST_ID))
            .and_then(|v| v.to_str().ok())
            .filter(|id| valid_request_id(id));
        Call {
            method: req.method().clone(),
            route: req.extensions().get::<MatchedPath>().cloned(),
            request_id: from_proxy.map_or_else(RequestId::random, |id| RequestId::FromProxy(id.into())),
            start: std::time::Instant::now(),
        }
    }
}

/// A proxy's request id is kept if it could not forge a log line: short,
/// and only letters, digits and `-_.:/+=`.
fn valid_request_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b))
}

fn record_request(method: &Method, route: &str, status: u16, latency: Duration) {
    let method: &'static str = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let class = match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    };
    if status == 429 {
        metrics::counter!("tachi_rate_limit_refusals_total", "route" => route.to_owned()).increment(1);
    }
    crate::telemetry::record_request(method, route, class, latency);
}

/// [`finish`] as a tower layer of its own rather than through
/// `axum::middleware::from_fn`, which boxes the rest of the stack, and the
/// future it returns, once more on every request: a measurable cost on the
/// bearer path (bench/RESULTS.md).
#[derive(Clone)]
struct Finish(Arc<WebSettings>);

impl tower_layer::Layer<axum::routing::Route> for Finish {
    type Service = Finished;

    fn layer(&self, route: axum::routing::Route) -> Finished {
        Finished { web: self.0.clone(), route }
    }
}

#[derive(Clone)]
struct Finished {
    web: Arc<WebSettings>,
    route: axum::routing::Route,
}

impl tower_service::Service<Request> for Finished {
    type Response = Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        tower_service::Service::<Request>::poll_ready(&mut self.route, cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let call = Call::of(&req, &self.web);
        // Who is asking, for the security log (only state changes record events).
        let meta = (!matches!(call.method, Method::GET | Method::HEAD | Method::OPTIONS)).then(|| {
            crate::service::audit::RequestMeta::new(
                extract::client_ip(req.headers(), req.extensions(), &self.web),
                req.headers().get(axum::http::header::USER_AGENT).and_then(|v| v.to_str().ok()),
            )
        });
        let handler = tower_service::Service::call(&mut self.route, req);
        let web = self.web.clone();
        let id = call.request_id.clone();
        match meta {
            // Around the handler itself: `finish` runs it in a task of its own.
            Some(meta) => {
                let handler = crate::service::audit::REQUEST.scope(meta, handler);
                Box::pin(crate::telemetry::with_request_id(id, finish(web, call, handler)).map(Ok))
            }
            None => Box::pin(crate::telemetry::with_request_id(id, finish(web, call, handler)).map(Ok)),
        }
    }
}

/// Runs a handler to its answer: in place if its method is `safe` (then it
/// may be dropped halfway, see `service::droppable`), else in its own task.
/// `None`: it panicked.
async fn run_handler<F>(safe: bool, handler: F) -> Option<Response>
where
    F: Future<Output = Response> + Send + 'static,
{
    if safe {
        AssertUnwindSafe(crate::service::droppable(handler)).catch_unwind().await.ok()
    } else {
        tokio::spawn(handler).await.ok()
    }
}

/// One year, this host only: other hosts of the operator's domain may not
/// speak TLS, so `includeSubDomains` is left to them.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// `https`: see [`WebSettings::https`].
fn with_security_headers(mut res: Response, https: bool) -> Response {
    let headers = res.headers_mut();
    let json = headers.get(header::CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let set: &[(HeaderName, HeaderValue)] = if json { &API_SECURITY_HEADERS } else { &SECURITY_HEADERS };
    headers.reserve(set.len() + 1);
    for (name, value) in set {
        headers.entry(name).or_insert_with(|| value.clone());
    }
    if https {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
    res
}

/// No route has this address: the API answers in its envelope, the site with a page.
async fn not_found(uri: axum::http::Uri) -> Response {
    if api::owns(uri.path()) { api::not_found().into_response() } else { pages::not_found().into_response() }
}

/// Ready when the database answers: what a load balancer should ask.
async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.svc.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bug in a handler costs its caller a 500, whichever way it ran.
    #[tokio::test]
    async fn a_panicking_handler_has_no_answer_and_the_server_goes_on() {
        for safe in [true, false] {
            let panicking = async { panic!("a bug") };
            assert!(run_handler(safe, panicking).await.is_none());
            let fine = async { StatusCode::NO_CONTENT.into_response() };
            assert_eq!(run_handler(safe, fine).await.map(|r| r.status()), Some(StatusCode::NO_CONTENT));
        }
    }
}
