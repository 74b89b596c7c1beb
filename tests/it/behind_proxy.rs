//! Behind a reverse proxy: per-address limits key on the address the proxy
//! reports, when (and only when) the operator names its header.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::TestServer;

async fn failed_login(server: &TestServer, username: &str, forwarded_for: &str) -> StatusCode {
    server
        .anonymous()
        .post(server.api("/auth/login"))
        .header("X-Forwarded-For", forwarded_for)
        .json(&json!({ "username": username, "!password": "wrong password" }))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test]
async fn the_named_header_keys_per_address_limits() {
    let server = TestServer::start_with(|a| {
        a.client_ip_header = Some("x-forwarded-for".parse().unwrap());
        a.login_failures_per_ip = 2;
    })
    .await;
    // The proxy appends the real client address last.
    assert_eq!(failed_login(&server, "nobody1", "9.9.9.9, 203.0.113.7").await, StatusCode::UNAUTHORIZED);
    assert_eq!(failed_login(&server, "nobody2", "203.0.113.7").await, StatusCode::UNAUTHORIZED);
    assert_eq!(failed_login(&server, "nobody3", "203.0.113.7").await, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy is not blocked with them.
    assert_eq!(failed_login(&server, "nobody4", "198.51.100.2").await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn without_the_setting_the_header_is_ignored() {
    let server = TestServer::start_with(|a| a.login_failures_per_ip = 2).await;
    assert_eq!(failed_login(&server, "nobody1", "203.0.113.1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(failed_login(&server, "nobody2", "203.0.113.2").await, StatusCode::UNAUTHORIZED);
    // A client cannot escape the limit by inventing addresses.
    assert_eq!(failed_login(&server, "nobody3", "203.0.113.3").await, StatusCode::TOO_MANY_REQUESTS);
}
