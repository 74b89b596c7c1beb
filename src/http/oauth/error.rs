//! The one place where failures of the standard endpoints become RFC 6749
//! §5.2 error responses: `{"error": code, "error_description": text}` with
//! the status code the RFC gives each, `WWW-Authenticate` when the client
//! failed to authenticate, and `Retry-After` when it is being rate limited.

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::service::ServiceError;
use crate::service::device::DeviceError;
use crate::service::oauth::ExchangeError;

/// The realm of the `Basic` challenge sent with `invalid_client`.
const BASIC_CHALLENGE: &str = r#"Basic realm="tachi-auth", charset="UTF-8""#;

#[derive(Debug)]
pub struct OAuthError {
    pub status: StatusCode,
    /// The RFC 6749 §5.2 (or RFC 7009 / RFC 6749 §4.1.2.1) error code.
    pub error: &'static str,
    pub description: String,
    pub retry_after: Option<u64>,
}

impl OAuthError {
    fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        OAuthError { status, error, description: description.into(), retry_after: None }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// Client authentication failed (or was missing, or unsupported): 401,
    /// with the challenge RFC 6749 §5.2 requires when Basic was used (sent
    /// always, as HTTP requires for any 401).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    pub fn invalid_scope(description: impl Into<String>) -> Self {
        OAuthError::new(StatusCode::BAD_REQUEST, "invalid_scope", description)
    }

    pub fn rate_limited(retry_after_secs: u64) -> Self {
        OAuthError {
            retry_after: Some(retry_after_secs),
            ..OAuthError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                format!("too many failed client authentications; try again in {retry_after_secs} seconds"),
            )
        }
    }
}

impl From<ExchangeError> for OAuthError {
    fn from(e: ExchangeError) -> Self {
        let invalid_grant = |d: &str| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", d);
        match e {
            ExchangeError::Missing(field) => OAuthError::invalid_request(format!("{field} is missing")),
            ExchangeError::UnsupportedGrantType => OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or urn:ietf:params:oauth:grant-type:device_code",
            ),
            // One answer for both, so the endpoint does not say which client ids exist.
            ExchangeError::SecretMissing => {
                OAuthError::invalid_client("client_secret is missing: only a public client authenticates without one")
            }
            ExchangeError::UnknownClient | ExchangeError::WrongSecret => {
                OAuthError::invalid_client("client authentication failed")
            }
            ExchangeError::RateLimited(secs) => OAuthError::rate_limited(secs),
            ExchangeError::RedirectMismatch => {
                invalid_grant("redirect_uri is not the one the authorization request used")
            }
            ExchangeError::InvalidCode | ExchangeError::CodeReplayed => {
                invalid_grant("the code is unknown, expired, already used, or was issued to another client")
            }
            ExchangeError::PkceFailed(why) => invalid_grant(why),
            ExchangeError::Service(e) => e.into(),
        }
    }
}

impl From<DeviceError> for OAuthError {
    fn from(e: DeviceError) -> Self {
        let bad = |error, description: &str| OAuthError::new(StatusCode::BAD_REQUEST, error, description);
        match e {
            DeviceError::Exchange(e) => e.into(),
            DeviceError::UnauthorizedClient => bad(
                "unauthorized_client",
                "this client does not allow the device grant: its author can add device_code to its grants",
            ),
            DeviceError::InvalidScope(why) => OAuthError::invalid_scope(why),
            DeviceError::Missing(field) => OAuthError::invalid_request(format!("{field} is missing")),
            DeviceError::AuthorizationPending => {
                bad("authorization_pending", "the player has not answered yet: poll again after the interval")
            }
            DeviceError::SlowDown => {
                bad("slow_down", "polled before the interval: wait 5 seconds more between polls from now on")
            }
            DeviceError::AccessDenied => bad("access_denied", "the player declined"),
            DeviceError::ExpiredToken => {
                bad("expired_token", "the device code has expired: start again with a new device authorization")
            }
            DeviceError::InvalidGrant => {
                bad("invalid_grant", "the device code is unknown, already used, or was issued to another client")
            }
        }
    }
}

impl From<ServiceError> for OAuthError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::RateLimited { retry_after_secs } => OAuthError::rate_limited(retry_after_secs),
            ServiceError::Unavailable | ServiceError::Busy => OAuthError {
                retry_after: e.retry_after_secs(),
                ..OAuthError::new(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", e.to_string())
            },
            ServiceError::Internal => OAuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", e.to_string()),
            other => OAuthError::invalid_request(other.to_string()),
        }
    }
}

impl From<FormRejection> for OAuthError {
    fn from(r: FormRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            return OAuthError::new(StatusCode::PAYLOAD_TOO_LARGE, "invalid_request", "the request body is too large");
        }
        let why = match &r {
            FormRejection::InvalidFormContentType(_) => "the body must be application/x-www-form-urlencoded".to_owned(),
            // Includes a parameter sent twice (RFC 6749 §3.2: at most once).
            _ => r.body_text(),
        };
        OAuthError::invalid_request(why)
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        // RFC 6749 §5.2: error_description is printable ASCII without `"` and `\`.
        let description: String = self
            .description
            .chars()
            .map(|c| match c {
                '"' | '\\' => '\'',
                ' '..='~' => c,
                _ => '?',
            })
            .collect();
        let mut res =
            (self.status, Json(ErrorBody { error: self.error, error_description: &description })).into_response();
        let h = res.headers_mut();
        no_store(h);
        if self.status == StatusCode::UNAUTHORIZED {
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(BASIC_CHALLENGE));
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

/// RFC 6749 §5.1: responses carrying (or refusing) credentials are not cached.
pub fn no_store(h: &mut axum::http::HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}
