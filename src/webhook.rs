//! Outgoing webhook requests, behind an SSRF guard.
//!
//! A webhook URL is the client author's text, and the server's requests go
//! where it says: without a guard, an author could make the server call
//! its own loopback services, the cloud's metadata address or the
//! operator's intranet. So, unless the operator allows private addresses
//! (`--webhook-allow-private`), a delivery resolves the host, refuses it if
//! *any* address is not public (`domain::webhook::is_public_address`), and
//! connects to the addresses it checked, itself: the HTTP client is given
//! that connection and never resolves the name again, so a DNS answer that
//! changes between check and connect (a rebind) cannot slip through.
//! Redirects are not followed: a 3xx is an answer like any other non-2xx.
//! Nothing here logs a request's body or headers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;
use url::{Host, Url};

use crate::domain::webhook::is_public_address;

/// Why a request was not answered with a status.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Never to be sent: the URL is not one a webhook may have, or its host
    /// is a private address. Retrying would change nothing.
    #[error("{0}")]
    Refused(String),
    /// No answer this time (name not resolved, connection refused, TLS,
    /// timeout): worth retrying.
    #[error("{0}")]
    Failed(String),
}

/// Sends webhook requests.
#[derive(Clone)]
pub struct Sender {
    tls: TlsConnector,
    allow_private: bool,
    timeout: Duration,
}

impl Sender {
    /// A sender whose requests, from resolving to the answer's status line,
    /// each take at most `timeout`.
    pub fn new(allow_private: bool, timeout: Duration) -> Sender {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Sender { tls: TlsConnector::from(Arc::new(config)), allow_private, timeout }
    }

    /// POSTs `body` (JSON) to `url` with `headers`; the answer's status.
    pub async fn post(&self, url: &str, headers: &[(&str, &str)], body: String) -> Result<u16, SendError> {
        let url = Url::parse(url).map_err(|e| SendError::Refused(format!("not a URL: {e}")))?;
        match tokio::time::timeout(self.timeout, self.post_url(&url, headers, body)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(SendError::Failed(format!("no answer within {} ms", self.timeout.as_millis()))),
        }
    }

    async fn post_url(&self, url: &Url, headers: &[(&str, &str)], body: String) -> Result<u16, SendError> {
        let addrs = self.checked_addresses(url).await?;
        let stream = connect(&addrs).await?;
        let _ = stream.set_nodelay(true);
        let request = request(url, headers, body)?;
        if url.scheme() == "https" {
            let name = match url.host() {
                Some(Host::Domain(d)) => rustls::pki_types::ServerName::try_from(d.to_owned())
                    .map_err(|e| SendError::Refused(format!("not a TLS server name: {e}")))?,
                Some(Host::Ipv4(ip)) => rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V4(ip).into()),
                Some(Host::Ipv6(ip)) => rustls::pki_types::ServerName::IpAddress(std::net::IpAddr::V6(ip).into()),
                None => return Err(SendError::Refused("the URL has no host".into())),
            };
            let tls = self.tls.connect(name, stream).await.map_err(|e| SendError::Failed(format!("TLS: {e}")))?;
            exchange(tls, request).await
        } else {
            exchange(stream, request).await
        }
    }

    /// The addresses `url`'s host resolves to, each checked by the guard.
    async fn checked_addresses(&self, url: &Url) -> Result<Vec<SocketAddr>, SendError> {
        let (host, addrs) = resolve(url).await?;
        // The address itself is not said: the author would learn how the
        // server's own network resolves names.
        if !self.allow_private && addrs.iter().any(|a| !is_public_address(a.ip())) {
            let what =
                if matches!(url.host(), Some(Host::Domain(_))) { "resolves to an address that is" } else { "is" };
            return Err(SendError::Refused(format!(
                "{host} {what} not public: this server sends webhooks to public addresses only"
            )));
        }
        Ok(addrs)
    }

    /// The check made when a client's webhook URL is set: is it an http(s)
    /// URL whose host, if it resolves now, resolves only to public
    /// addresses? A name that does not resolve yet is accepted (deliveries
    /// check again, every time).
    pub async fn check_destination(&self, url: &str) -> Result<(), String> {
        let url = Url::parse(url).map_err(|e| format!("webhookUri is not a valid URL: {e}"))?;
        match tokio::time::timeout(self.timeout, self.checked_addresses(&url)).await {
            Ok(Err(SendError::Refused(why))) => Err(format!("webhookUri is refused: {why}")),
            _ => Ok(()),
        }
    }
}

/// The host of `url` and its addresses, with the URL's port.
async fn resolve(url: &Url) -> Result<(String, Vec<SocketAddr>), SendError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(SendError::Refused(format!("a webhook URL must be http or https, not {}", url.scheme())));
    }
    let port = url.port_or_known_default().ok_or_else(|| SendError::Refused("the URL has no port".into()))?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(Host::Ipv4(ip)) => vec![SocketAddr::from((ip, port))],
        Some(Host::Ipv6(ip)) => vec![SocketAddr::from((ip, port))],
        Some(Host::Domain(name)) => tokio::net::lookup_host((name, port))
            .await
            .map_err(|e| SendError::Failed(format!("cannot resolve {name}: {e}")))?
            .collect(),
        None => return Err(SendError::Refused("the URL has no host".into())),
    };
    if addrs.is_empty() {
        return Err(SendError::Failed(format!("{} resolves to no address", url.host_str().unwrap_or(""))));
    }
    Ok((url.host_str().unwrap_or_default().to_owned(), addrs))
}

/// A connection to the first of `addrs` that accepts one.
async fn connect(addrs: &[SocketAddr]) -> Result<tokio::net::TcpStream, SendError> {
    let mut last = None;
    for addr in addrs {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(format!("cannot connect to {addr}: {e}")),
        }
    }
    Err(SendError::Failed(last.unwrap_or_else(|| "no address to connect to".into())))
}

fn request(url: &Url, headers: &[(&str, &str)], body: String) -> Result<hyper::Request<Full<Bytes>>, SendError> {
    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let mut builder = hyper::Request::post(path)
        .header(hyper::header::HOST, host)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(hyper::header::USER_AGENT, concat!("tachi-auth-webhooks/", env!("CARGO_PKG_VERSION")));
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(Full::new(Bytes::from(body))).map_err(|e| SendError::Refused(format!("bad request: {e}")))
}

/// Sends `request` on `io` and reads the answer's status; the body is not read.
async fn exchange<IO>(io: IO, request: hyper::Request<Full<Bytes>>) -> Result<u16, SendError>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| SendError::Failed(format!("HTTP: {e}"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await.map_err(failed)?;
    let driver = tokio::spawn(connection);
    let outcome = sender.send_request(request).await.map(|res| res.status().as_u16()).map_err(failed);
    // One request per connection: it is closed as soon as the status is in.
    driver.abort();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Loopback, private and link-local hosts are refused before any
    /// connection is made, whether written as an address or as a name.
    #[tokio::test]
    async fn private_destinations_are_refused_unless_allowed() {
        let guarded = Sender::new(false, Duration::from_secs(2));
        for url in ["http://127.0.0.1:9/", "http://[::1]:9/", "http://169.254.169.254/latest", "http://localhost:9/"] {
            let e = guarded.post(url, &[], "{}".into()).await.unwrap_err();
            assert!(matches!(e, SendError::Refused(_)), "{url}: {e}");
            assert!(guarded.check_destination(url).await.is_err(), "{url}");
        }
        assert!(matches!(guarded.post("ftp://example.com/", &[], "{}".into()).await, Err(SendError::Refused(_))));
        // With the operator's permission, a closed loopback port is only a failure to retry.
        let open = Sender::new(true, Duration::from_secs(2));
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let e = open.post(&format!("http://127.0.0.1:{port}/"), &[], "{}".into()).await.unwrap_err();
        assert!(matches!(e, SendError::Failed(_)), "{e}");
        assert!(open.check_destination("http://127.0.0.1:9/").await.is_ok());
    }
}
