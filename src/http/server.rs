//! Serving connections: what one client may hold, and for how long.
//!
//! `axum::serve` keeps hyper's defaults, which trust the client: no limit on
//! how long it takes to send its headers or how long an idle connection is
//! kept, a ~400 KB header buffer per connection, no cap on connections, and
//! a graceful shutdown that waits for every connection however long it
//! takes. Each of these let one anonymous client hold the server's memory
//! or file descriptors, or keep it from stopping. This loop serves HTTP/1.1
//! (what a reverse proxy speaks to its upstream) with bounds on all of them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderValue;
use axum::http::header::CONNECTION;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The bounds of [`serve`].
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// Connections open at once; past it, new ones are closed at once.
    pub max_connections: usize,
    /// How long a client may take to send a request's headers, which is
    /// also how long an idle keep-alive connection waits for the next one.
    pub header_timeout: Duration,
    /// The largest request head accepted (431 beyond it).
    pub max_header_bytes: usize,
    /// After the shutdown signal, how long requests in progress may take.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_connections: 4096,
            header_timeout: Duration::from_secs(10),
            max_header_bytes: 16 * 1024,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// hyper's smallest read buffer; a head limit below it would be meaningless.
const MIN_BUFFER: usize = 8192;

/// How long, after the shutdown signal, a connection accepted but not yet
/// sent its first request is given to send it: its client connected to
/// send one, and it is answered (with `Connection: close`) rather than cut.
const FIRST_REQUEST_GRACE: Duration = Duration::from_millis(500);

/// Serves `router` on `listener` until `shutdown` resolves, then stops
/// accepting, lets requests in progress finish within the grace period, and
/// closes what is left.
///
/// A request the server has accepted is answered in full on shutdown:
/// - connections already waiting in the listen queue are accepted before
///   the listener closes (closing it would reset them);
/// - a connection that has not sent its first request yet gets
///   [`FIRST_REQUEST_GRACE`] to send it, and its answer closes it;
/// - a request in progress finishes, and its answer closes the connection;
/// - an idle keep-alive connection is closed, as HTTP/1.1 allows at any
///   time (a client resends what it had not yet sent on it).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    let head = limits.max_header_bytes.max(MIN_BUFFER);
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(head)
        // The read buffer holds a head while it is parsed; request bodies
        // are streamed through it, so it need not be larger than a head.
        .max_buf_size(head.max(MIN_BUFFER * 2));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let stopped = Arc::new(AtomicBool::new(false));
    let serving = Serving { http, router, stopping, stopped: stopped.clone() };
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before
                    // it was accepted: wait a moment rather than spin.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            // Full: shed the newcomer rather than let it wait holding a descriptor.
            drop(stream);
            continue;
        };
        connections.spawn(serving.connection(stream, peer, slot));
    }
    stopped.store(true, Ordering::Relaxed);
    let _ = stop.send(true);
    // The connections the kernel completed but we had not accepted yet
    // would be reset with the listener: take them first.
    let mut queued = 0;
    if let Ok(listener) = listener.into_std() {
        while let Ok((stream, peer)) = listener.accept() {
            let stream = stream.set_nonblocking(true).and_then(|()| tokio::net::TcpStream::from_std(stream));
            let (Ok(stream), Ok(slot)) = (stream, slots.clone().try_acquire_owned()) else { continue };
            connections.spawn(serving.connection(stream, peer, slot));
            queued += 1;
        }
    }
    let open = connections.len();
    tracing::info!(
        open_connections = open,
        queued_connections = queued,
        grace_seconds = limits.shutdown_grace.as_secs(),
        "shutting down: no longer accepting connections; letting requests in progress finish"
    );
    let stopping = std::time::Instant::now();
    let finished = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, finished).await.is_err() {
        tracing::warn!(open, grace = ?limits.shutdown_grace, "requests still in progress at the end of the grace period: closing their connections");
    } else {
        tracing::info!(waited_ms = stopping.elapsed().as_millis() as u64, "every request in progress was answered");
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
    Ok(())
}

/// What each connection is served with.
struct Serving {
    http: hyper::server::conn::http1::Builder,
    router: Router,
    /// Becomes true at the shutdown signal: the waiters' and the requests' view.
    stopping: tokio::sync::watch::Receiver<bool>,
    stopped: Arc<AtomicBool>,
}

impl Serving {
    /// The task serving one connection until it closes (see [`serve`] for
    /// what the shutdown does to it).
    fn connection(
        &self,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> impl Future<Output = ()> + Send + 'static {
        let _ = stream.set_nodelay(true);
        let router = self.router.clone();
        let mut stopping = self.stopping.clone();
        let started = Arc::new(AtomicBool::new(false));
        let service = {
            let (started, stopped) = (started.clone(), self.stopped.clone());
            hyper::service::service_fn(move |req: Request<Incoming>| {
                started.store(true, Ordering::Relaxed);
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
                let answer = tower_service::Service::call(&mut router.clone(), req);
                let stopped = stopped.clone();
                async move {
                    let mut res = answer.await?;
                    if stopped.load(Ordering::Relaxed) {
                        // hyper closes the connection after this answer.
                        res.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
                    }
                    Ok::<_, std::convert::Infallible>(res)
                }
            })
        };
        let connection = self.http.serve_connection(TokioIo::new(stream), service);
        async move {
            let _slot = slot;
            let mut connection = std::pin::pin!(connection);
            let outcome = tokio::select! {
                outcome = connection.as_mut() => outcome,
                () = async { drop(stopping.wait_for(|stop| *stop).await) } => {
                    let mut ended = None;
                    if !started.load(Ordering::Relaxed) {
                        // Accepted but silent so far: its request may be on the way.
                        ended = tokio::time::timeout(FIRST_REQUEST_GRACE, connection.as_mut()).await.ok();
                    }
                    match ended {
                        Some(outcome) => outcome,
                        None => {
                            // A request in progress finishes; an idle connection closes.
                            connection.as_mut().graceful_shutdown();
                            connection.await
                        }
                    }
                }
            };
            if let Err(e) = outcome {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        }
    }
}

/// Raises this process's soft limit on open files to its hard limit, so the
/// connection cap, not the descriptor table, is what bounds connections.
/// Returns the limit in force.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: getrlimit and setrlimit only read and write the struct given.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        Some(limit.rlim_cur)
    }
    #[cfg(not(unix))]
    None
}
