//! The JSON API's `{success, description, body}` envelope, and the one place
//! where errors become envelopes with a status code.

use axum::body::{Body, Bytes};
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream, StreamExt};
use serde::Serialize;

use crate::service::ServiceError;

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    success: bool,
    description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    body: Option<T>,
}

/// A JSON answer. Its header map is made, at once, big enough for the
/// headers every answer then gets (`http::finish` adds five): grown from
/// empty, it was allocated and then reallocated on every request.
fn json_answer(status: StatusCode, body: Body) -> Response {
    let mut headers = HeaderMap::with_capacity(8);
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut res = Response::new(body);
    *res.status_mut() = status;
    *res.headers_mut() = headers;
    res
}

/// A successful answer: 200 with a description and a body.
pub struct ApiOk<T>(pub String, pub T);

impl<T: Serialize> IntoResponse for ApiOk<T> {
    fn into_response(self) -> Response {
        let json = serde_json::to_vec(&Envelope { success: true, description: &self.0, body: Some(self.1) });
        match json {
            Ok(bytes) => json_answer(StatusCode::OK, Body::from(bytes)),
            Err(_) => ApiError::from(ServiceError::Internal).into_response(),
        }
    }
}

/// A successful answer whose body is a list of any length, sent a page at a
/// time as `pages` yields them, so that its size never becomes the server's
/// memory. The description counts the items, so it comes after the body:
/// `{"success":true,"body":[…],"description":"…"}` (JSON members have no
/// order). The first page is read before the answer starts, so that a
/// failure is still an error envelope; a later failure cuts the answer
/// short (the client sees a broken chunked body, never a truncated list
/// that parses).
pub struct ApiOkList<T, S> {
    pub first: Vec<T>,
    pub rest: S,
    pub describe: fn(usize) -> String,
}

impl<T, S> IntoResponse for ApiOkList<T, S>
where
    T: Serialize + Send + 'static,
    S: Stream<Item = Result<Vec<T>, ServiceError>> + Send + 'static,
{
    fn into_response(self) -> Response {
        let ApiOkList { first, rest, describe } = self;
        // The first chunk opens the envelope: `first` always comes, even empty.
        let pages = stream::once(async { Ok(first) }).chain(rest).boxed();
        let opening = br#"{"success":true,"body":["#;
        // State: the pages still to come (None once the answer is over), and
        // the items sent (None before the first chunk, which opens the envelope).
        let chunks = stream::unfold((Some(pages), None::<usize>), move |(pages, sent)| async move {
            let mut pages = pages?;
            let mut chunk = if sent.is_none() { opening.to_vec() } else { Vec::new() };
            let mut n = sent.unwrap_or(0);
            match pages.next().await {
                Some(Ok(page)) => {
                    for item in &page {
                        if n > 0 {
                            chunk.push(b',');
                        }
                        if let Err(e) = serde_json::to_writer(&mut chunk, item) {
                            return Some((Err(e.to_string()), (None, sent)));
                        }
                        n += 1;
                    }
                    Some((Ok(Bytes::from(chunk)), (Some(pages), Some(n))))
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "a list failed while it was being sent");
                    Some((Err(e.to_string()), (None, sent)))
                }
                None => {
                    chunk.extend_from_slice(br#"],"description":"#);
                    let _ = serde_json::to_writer(&mut chunk, &describe(n));
                    chunk.push(b'}');
                    Some((Ok(Bytes::from(chunk)), (None, sent)))
                }
            }
        });
        json_answer(StatusCode::OK, Body::from_stream(chunks))
    }
}

/// A failed answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub description: String,
    /// RFC 6750 `WWW-Authenticate` challenge for bearer-token failures.
    pub challenge: Option<&'static str>,
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        ApiError { status, description: description.into(), challenge: None, retry_after: None }
    }

    pub fn bad_request(description: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, description)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        let status = match &e {
            ServiceError::Invalid(_) => StatusCode::BAD_REQUEST,
            ServiceError::Unauthenticated(_) | ServiceError::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            ServiceError::Forbidden(_) | ServiceError::InsufficientScope(_) => StatusCode::FORBIDDEN,
            ServiceError::NotFound(_) => StatusCode::NOT_FOUND,
            ServiceError::Conflict(_) => StatusCode::CONFLICT,
            ServiceError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ServiceError::Unavailable | ServiceError::Busy => StatusCode::SERVICE_UNAVAILABLE,
            ServiceError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            ServiceError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry_after = e.retry_after_secs();
        let challenge = match &e {
            ServiceError::InvalidToken(_) => Some(r#"Bearer error="invalid_token""#),
            ServiceError::InsufficientScope(_) => Some(r#"Bearer error="insufficient_scope""#),
            _ => None,
        };
        ApiError { status, description: e.to_string(), challenge, retry_after }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let status = match &r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let description = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "the request body must be JSON (Content-Type: application/json)".into()
            }
            JsonRejection::JsonSyntaxError(_) => {
                format!("the request body is not valid JSON: {}", r.body_text())
            }
            JsonRejection::JsonDataError(_) => {
                format!("the request body is not what this route expects: {}", data_error(&r.body_text()))
            }
            _ if status == StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".into(),
            _ => format!("the request body could not be read: {}", r.body_text()),
        };
        ApiError::new(status, description)
    }
}

/// serde's messages are good; axum's prefix around them is noise.
fn data_error(text: &str) -> String {
    text.trim_start_matches("Failed to deserialize the JSON body into the target type: ").to_owned()
}

impl From<FormRejection> for ApiError {
    fn from(r: FormRejection) -> Self {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            // The same words as for a JSON body.
            return ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large");
        }
        ApiError::bad_request(format!("the form body could not be read: {}", r.body_text()))
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(format!("invalid path parameter: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(format!("invalid query string: {}", r.body_text()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&Envelope::<()> { success: false, description: &self.description, body: None })
            .unwrap_or_else(|_| br#"{"success":false,"description":"internal error"}"#.to_vec());
        let mut res = json_answer(self.status, Body::from(body));
        if let Some(challenge) = self.challenge {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        }
        if let Some(secs) = self.retry_after {
            res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

pub type ApiResult<T> = Result<ApiOk<T>, ApiError>;
