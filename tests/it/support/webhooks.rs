//! An integration's webhook endpoint for the tests: a real HTTP server on
//! loopback that records every request, can be stopped and started again on
//! the same port (an endpoint that is down for a while), and the Standard
//! Webhooks verification written here from the specification, independently
//! of the server's code. `verify_with_library` checks a delivery with the
//! specification's own Python library as well.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::sync::oneshot;

/// One request as the endpoint received it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub at: Instant,
    pub content_type: String,
}

impl Delivery {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a delivery's body is JSON")
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub url: String,
    log: Arc<Mutex<Vec<Delivery>>>,
    stop: Option<(oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl Receiver {
    /// An endpoint on a free loopback port, at `/hooks/tachi`.
    pub async fn start() -> Receiver {
        let mut r = Receiver::down(super::binary::free_addr());
        r.up().await;
        r
    }

    /// An endpoint that is not listening yet (see [`Receiver::up`]).
    pub fn down(addr: SocketAddr) -> Receiver {
        Receiver { addr, url: format!("http://{addr}/hooks/tachi"), log: Arc::default(), stop: None }
    }

    /// Starts listening (again) on its port.
    pub async fn up(&mut self) {
        assert!(self.stop.is_none(), "already up");
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(self.addr).unwrap();
        let listener = socket.listen(64).unwrap();
        let log = self.log.clone();
        let app = axum::Router::new().route(
            "/hooks/tachi",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let log = log.clone();
                async move {
                    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    log.lock().unwrap().push(Delivery {
                        id: h("webhook-id"),
                        timestamp: h("webhook-timestamp"),
                        signature: h("webhook-signature"),
                        content_type: h("content-type"),
                        body: String::from_utf8(body.to_vec()).unwrap(),
                        at: Instant::now(),
                    });
                    "ok"
                }
            }),
        );
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await;
        });
        self.stop = Some((tx, task));
    }

    /// Stops listening: connections are refused until [`Receiver::up`].
    pub async fn down_now(&mut self) {
        if let Some((tx, task)) = self.stop.take() {
            let _ = tx.send(());
            let _ = task.await;
        }
    }

    pub fn received(&self) -> Vec<Delivery> {
        self.log.lock().unwrap().clone()
    }

    /// Waits (up to `within`) until at least `count` requests have arrived.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Delivery> {
        let start = Instant::now();
        loop {
            let all = self.received();
            if all.len() >= count {
                return all;
            }
            assert!(start.elapsed() < within, "{} of {count} deliveries after {within:?}: {all:#?}", all.len());
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some((tx, task)) = self.stop.take() {
            let _ = tx.send(());
            task.abort();
        }
    }
}

/// Verifies a delivery as the Standard Webhooks specification says: the
/// secret is `whsec_` and base64 of the key; the signature header holds
/// space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`; the
/// timestamp must be within five minutes of now. Returns the parsed body.
pub fn verify(secret: &str, d: &Delivery) -> Result<Value, String> {
    let key = BASE64
        .decode(secret.strip_prefix("whsec_").ok_or("the secret has no whsec_ prefix")?)
        .map_err(|e| e.to_string())?;
    let ts: i64 = d.timestamp.parse().map_err(|_| format!("bad webhook-timestamp {:?}", d.timestamp))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    if (now - ts).abs() > 300 {
        return Err(format!("timestamp {ts} is not within 5 minutes of {now}"));
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", d.id, d.timestamp, d.body).as_bytes());
    let expected = mac.finalize().into_bytes();
    let ok = d.signature.split(' ').filter_map(|s| s.strip_prefix("v1,")).any(|sig| {
        BASE64.decode(sig).is_ok_and(|given| given.len() == expected.len() && given.as_slice() == expected.as_slice())
    });
    if !ok {
        return Err(format!("no v1 signature matches: {:?}", d.signature));
    }
    serde_json::from_str(&d.body).map_err(|e| e.to_string())
}

/// Verifies `d` with the `standardwebhooks` Python package, the
/// specification's published library, as an integration author would:
/// `Webhook(secret).verify(body, headers)`. Returns what it printed.
pub async fn verify_with_library(secret: &str, d: &Delivery) -> Result<String, String> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/python/verify_webhook.py");
    let input = serde_json::json!({
        "secret": secret,
        "headers": { "webhook-id": d.id, "webhook-timestamp": d.timestamp, "webhook-signature": d.signature },
        "body": d.body,
    });
    let mut child = tokio::process::Command::new(python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs (scripts/test installs standardwebhooks)");
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, input.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() { Ok(text) } else { Err(format!("{text}{}", String::from_utf8_lossy(&out.stderr))) }
}
