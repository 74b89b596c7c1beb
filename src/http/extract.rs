//! Request extractors of the JSON API: bodies, paths and queries whose
//! rejections become envelopes, the caller, and the client's address.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, header};
use axum_extra::extract::cookie::CookieJar;

use super::AppState;
use super::envelope::ApiError;
use crate::service::{Caller, ServiceError, Via};

#[derive(FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

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
        let from_proxy = state.web.client_ip_header.as_ref().and_then(|name| {
            let value = parts.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).next_back()?;
            let last = value.rsplit(',').next()?.trim();
            last.parse::<std::net::IpAddr>().ok().map(|ip| ip.to_string())
        });
        let ip = from_proxy.unwrap_or_else(|| {
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip().to_string())
                .unwrap_or_else(|| "unknown".into())
        });
        Ok(ClientIp(ip))
    }
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
