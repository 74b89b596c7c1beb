//! Client authentication at the standard endpoints (RFC 6749 §2.3.1): HTTP
//! Basic (`client_secret_basic`) or the request body (`client_secret_post`),
//! never both in one request.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::error::OAuthError;
use crate::service::oauth::ClientCredentials;

/// The client's credentials, from the `Authorization: Basic` header or from
/// the body's `client_id` and `client_secret`.
pub fn client_credentials(
    headers: &HeaderMap,
    body_id: Option<String>,
    body_secret: Option<String>,
) -> Result<ClientCredentials, OAuthError> {
    let body_id = body_id.filter(|s| !s.is_empty());
    let body_secret = body_secret.filter(|s| !s.is_empty());
    let Some(authorization) = headers.get(header::AUTHORIZATION) else {
        // A public client sends its client_id alone (`none`, RFC 8252 §8.4).
        return match (body_id, body_secret) {
            (Some(client_id), client_secret) => Ok(ClientCredentials { client_id, client_secret }),
            (None, _) => Err(OAuthError::invalid_client(
                "client authentication is required: HTTP Basic, or client_id (and client_secret) in the body",
            )),
        };
    };
    let basic = parse_basic(authorization.as_bytes())?;
    if body_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "use one client authentication method: HTTP Basic or client_secret in the body, not both",
        ));
    }
    // RFC 6749 §4.1.3 lets a client repeat its id in the body; it must be the same.
    if body_id.is_some_and(|id| id != basic.client_id) {
        return Err(OAuthError::invalid_request("client_id in the body is not the client authenticated by HTTP Basic"));
    }
    Ok(basic)
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1
/// form-encodes both before joining them, so both are decoded here).
fn parse_basic(value: &[u8]) -> Result<ClientCredentials, OAuthError> {
    let bad = || OAuthError::invalid_client("the Authorization header is not valid HTTP Basic");
    let value = std::str::from_utf8(value).map_err(|_| bad())?.trim();
    let (scheme, encoded) = value.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client(
            "the token endpoint authenticates clients by HTTP Basic or by the body, not by this scheme",
        ));
    }
    if encoded.len() > 2048 {
        return Err(bad());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let client_id = form_decode(id).ok_or_else(bad)?;
    let client_secret = form_decode(secret).ok_or_else(bad)?;
    if client_id.is_empty() || client_secret.is_empty() {
        return Err(bad());
    }
    Ok(ClientCredentials { client_id, client_secret: Some(client_secret) })
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a
/// space, `%XX` a byte; `None` if a `%` escape is broken or the result is
/// not UTF-8.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hex = std::str::from_utf8(hex).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        let v = format!("Basic {}", STANDARD.encode(raw));
        h.insert(header::AUTHORIZATION, v.parse().unwrap());
        h
    }

    /// `unwrap_err` would need `Debug`, which credentials deliberately lack.
    fn err(r: Result<ClientCredentials, OAuthError>) -> OAuthError {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let c = client_credentials(&basic("CI%3Aa+b:s%2Be%25c%3Ar"), None, None).unwrap();
        assert_eq!(c.client_id, "CI:a b");
        assert_eq!(c.client_secret.as_deref(), Some("s+e%c:r"));
    }

    #[test]
    fn both_methods_at_once_are_refused() {
        let e = err(client_credentials(&basic("CI1:CS1"), None, Some("CS1".into())));
        assert_eq!(e.error, "invalid_request");
        let e = err(client_credentials(&basic("CI1:CS1"), Some("CI2".into()), None));
        assert_eq!(e.error, "invalid_request");
        assert!(client_credentials(&basic("CI1:CS1"), Some("CI1".into()), None).is_ok());
    }

    #[test]
    fn broken_headers_are_invalid_client() {
        for raw in ["nocolon", "%zz:x", ":secret", "id:"] {
            let e = err(client_credentials(&basic(raw), None, None));
            assert_eq!(e.error, "invalid_client", "{raw}");
        }
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(err(client_credentials(&h, None, None)).error, "invalid_client");
        assert_eq!(err(client_credentials(&HeaderMap::new(), None, None)).error, "invalid_client");
    }

    /// A public client sends its id alone; whether it may is the service's call.
    #[test]
    fn an_id_alone_is_passed_on() {
        let c = client_credentials(&HeaderMap::new(), Some("CI1".into()), None).unwrap();
        assert_eq!((c.client_id.as_str(), c.client_secret), ("CI1", None));
    }
}
