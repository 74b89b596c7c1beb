//! Request extractors: the JSON API's bodies, paths and queries whose
//! rejections become envelopes, and its caller; the pages' posted forms
//! (`PageForm`, which checks where a form came from); the client's address.

use std::net::SocketAddr;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{JsonRejection, MissingJsonContentType};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum_extra::extract::cookie::CookieJar;
use serde::de::DeserializeOwned;

use super::AppState;
use super::envelope::ApiError;
use super::pages::{PageError, PageUser, page_user, prelogin};
use crate::domain::User;
use crate::domain::secret::same_token;
use crate::service::{Caller, ServiceError, Via};

/// A JSON body. Without a Content-Type the body is read as JSON all the
/// same (the original server's clients do not all send one); another type is
/// refused (415). A body that is missing or not valid JSON is a 400.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match json_body(req, state).await? {
            Some(v) => Ok(ApiJson(v)),
            None => Err(ApiError::bad_request("the request body is empty: this route takes a JSON object")),
        }
    }
}

/// A JSON body a route may also go without: an empty body is `T::default()`;
/// a body that is there is read as [`ApiJson`] reads it, so a body that is
/// not valid JSON is a 400, never ignored.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        Ok(OptionalJson(json_body(req, state).await?.unwrap_or_default()))
    }
}

/// The body as JSON; `None` when it is empty (whatever its Content-Type).
async fn json_body<T: DeserializeOwned, S: Send + Sync>(req: Request, state: &S) -> Result<Option<T>, ApiError> {
    let typed = req.headers().get(header::CONTENT_TYPE).map(|t| t.as_bytes().to_ascii_lowercase());
    let bytes = Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large")
        } else {
            ApiError::bad_request(format!("the request body could not be read: {}", e.body_text()))
        }
    })?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if let Some(t) = typed {
        let essence = t.split(|&b| b == b';').next().unwrap_or_default().trim_ascii();
        if !(essence == b"application/json" || (essence.starts_with(b"application/") && essence.ends_with(b"+json"))) {
            return Err(JsonRejection::from(MissingJsonContentType::default()).into());
        }
    }
    // Every body this API takes is an object, but serde reads a struct from
    // an array too, by position: `[null, null]` would clear a client's
    // redirect URI. Valid JSON of another kind is refused as such; what is
    // not JSON at all gets the parser's own message below.
    let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if !object && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() {
        return Err(ApiError::bad_request("the request body must be a JSON object"));
    }
    let Json(v) = Json::<T>::from_bytes(&bytes)?;
    Ok(Some(v))
}

#[derive(FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// The client's address, used to key rate limits: the peer address, or —
/// when the operator says a reverse proxy sets one — the address in that
/// header (its last entry: the one the trusted proxy itself appended).
pub struct ClientIp(pub String);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(client_ip(&parts.headers, &parts.extensions, &state.web)))
    }
}

/// The client's address as [`ClientIp`] reads it.
pub fn client_ip(headers: &HeaderMap, extensions: &axum::http::Extensions, web: &super::WebSettings) -> String {
    let from_proxy = web.client_ip_header.as_ref().and_then(|name| {
        let value = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).next_back()?;
        let last = value.rsplit(',').next()?.trim();
        last.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
    });
    from_proxy.unwrap_or_else(|| {
        extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(a)| a.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    })
}

/// The session cookie's value, if the request carries one.
pub fn session_cookie<'a>(jar: &'a CookieJar, state: &AppState) -> Option<&'a str> {
    jar.get(&state.web.cookie_name).map(|c| c.value())
}

/// Is this request from a page of another site? Browsers say so in
/// `Sec-Fetch-Site`, or at least in `Origin`; requests with neither (curl,
/// scripts) are not browser requests and carry no ambient cookie risk
/// beyond what SameSite=Lax already stops. An `Origin` is ours when it has
/// our host and the public URL's scheme (`https`: a page served over plain
/// http on our host, e.g. by a network attacker, is not ours).
pub fn is_cross_site(headers: &HeaderMap, https: bool) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let Some((scheme, origin_host)) = origin.split_once("://") else { return true };
    let scheme_ok = scheme.eq_ignore_ascii_case(if https { "https" } else { "http" });
    !scheme_ok || !origin_host.eq_ignore_ascii_case(host)
}

/// The authenticated caller of a JSON API request. Cookie-authenticated
/// state changes from another site are refused here (CSRF).
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let authorization = match parts.headers.get(header::AUTHORIZATION) {
            // An empty header is no authentication, as the original server
            // reads it (its own clients send `Authorization: ""` without a key).
            Some(v) if v.as_bytes().iter().all(u8::is_ascii_whitespace) => None,
            Some(v) => {
                Some(v.to_str().map_err(|_| ApiError::bad_request("the Authorization header is not valid text"))?)
            }
            None => None,
        };
        // A bearer key decides alone: the cookies are not even parsed (the hot path).
        let jar = authorization.is_none().then(|| CookieJar::from_headers(&parts.headers));
        let cookie = jar.as_ref().and_then(|jar| session_cookie(jar, state));
        let caller = state.svc.authenticate(authorization, cookie).await?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if matches!(caller.via, Via::Session { .. }) && !safe && is_cross_site(&parts.headers, state.web.https) {
            return Err(ServiceError::Forbidden("cross-site requests cannot use the session cookie".into()).into());
        }
        Ok(Auth(caller))
    }
}

/// The caller, and the user a route's `{user_id}` path segment names (an id,
/// a username in any case, or `me`; see `Service::resolve_user`). Every
/// `/users/:userID/...` route takes its user this way.
pub struct PathUser {
    pub caller: Caller,
    pub user: User,
}

impl FromRequestParts<AppState> for PathUser {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Auth(caller) = Auth::from_request_parts(parts, state).await?;
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("invalid path parameter: {}", e.body_text())))?;
        let Some((_, raw)) = params.iter().find(|(name, _)| *name == "user_id") else {
            return Err(ApiError::bad_request("No userID given."));
        };
        let user = state.svc.resolve_user(&caller, raw).await?;
        Ok(PathUser { caller, user })
    }
}

/// A form posted by one of our pages, read and checked in one place before
/// its handler runs: a body that is not the form is a 400 page; a form that
/// does not come from our own page (posted from another site, or without
/// the token the page put in it) is refused with a page saying it expired.
/// `W` is who posts it and whose token it must carry: a logged-in
/// [`PageUser`] (not logged in: the login page, then back), or a browser
/// before login, [`Prelogin`].
pub struct PageForm<T, W = PageUser> {
    pub sender: W,
    pub fields: T,
}

/// A form with nothing to send but its token (a button).
#[derive(serde::Deserialize)]
pub struct NoFields {}

/// Who posts a page's form, and the token their forms carry.
pub trait FormSender: Sized {
    fn of(
        headers: &HeaderMap,
        path: &str,
        state: &AppState,
    ) -> impl std::future::Future<Output = Result<Self, PageError>> + Send;
    fn token(&self) -> &str;
}

impl FormSender for PageUser {
    async fn of(headers: &HeaderMap, path: &str, state: &AppState) -> Result<Self, PageError> {
        // After logging in, a Client File Flow form goes back to its page,
        // and a device form to the code entry; the other forms' page is the
        // dashboard.
        let here = if path.starts_with("/client-file-flow/") {
            path
        } else if path.starts_with("/device") {
            "/device"
        } else {
            "/"
        };
        page_user(state, &CookieJar::from_headers(headers), here).await
    }

    fn token(&self) -> &str {
        &self.csrf
    }
}

/// A browser before login (the login, register and recovery pages): its
/// forms carry the token of the pre-login cookie, which the first of these
/// pages it opens sets.
pub struct Prelogin {
    /// The token the pages' forms carry.
    pub csrf: String,
    /// The pre-login cookie to set on the answer, when the browser had none.
    pub set_cookie: Option<String>,
}

impl FormSender for Prelogin {
    async fn of(headers: &HeaderMap, _path: &str, state: &AppState) -> Result<Self, PageError> {
        let (csrf, set_cookie) = prelogin(state, &CookieJar::from_headers(headers));
        Ok(Prelogin { csrf, set_cookie })
    }

    fn token(&self) -> &str {
        &self.csrf
    }
}

/// The token field every form of our pages carries.
#[derive(serde::Deserialize)]
struct FormToken {
    csrf: String,
}

impl<T: DeserializeOwned + Send, W: FormSender + Send> FromRequest<AppState> for PageForm<T, W> {
    type Rejection = PageError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, PageError> {
        let (parts, body) = req.into_parts();
        let unreadable = |why: String| PageError::bad_request(format!("The form could not be read: {why}"));
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|e| unreadable(e.body_text()))?;
        let again = Request::from_parts(parts.clone(), Body::from(bytes.clone()));
        let axum_extra::extract::Form(fields) = axum_extra::extract::Form::<T>::from_request(again, state).await?;
        let token = serde_urlencoded::from_bytes::<FormToken>(&bytes).map_err(|e| unreadable(e.to_string()))?;
        let sender = W::of(&parts.headers, parts.uri.path(), state).await?;
        if is_cross_site(&parts.headers, state.web.https) || !same_token(sender.token(), &token.csrf) {
            return Err(PageError::Message {
                status: StatusCode::FORBIDDEN,
                heading: "This form has expired",
                message: "The form was not sent from this site, or it is too old. Go back, reload the page and try \
                          again."
                    .into(),
            });
        }
        Ok(PageForm { sender, fields })
    }
}
