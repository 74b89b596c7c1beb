//! W0 of `bench/run`: a bare axum "hello" on the same axum/tokio versions and
//! runtime setup as tachi-auth, to measure the ceiling of this machine.
//!
//! ```text
//! hello [ADDR=127.0.0.1:8099]
//! ```

use axum::Router;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8099".into());
    let app = Router::new().route("/", get(|| async { "hello" })).route("/healthz", get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
