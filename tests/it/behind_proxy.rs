//! Behind a reverse proxy: per-address limits key on the address the proxy
//! reports, when (and only when) the operator names its header; when the
//! proxy serves https (the public URL says so), cookies are `Secure` and
//! browsers are told to stay on https.

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

/// The session cookie and the `Strict-Transport-Security` header of a login.
async fn login_answer(server: &TestServer) -> (String, Option<String>) {
    server.register("player").await;
    let res = server
        .anonymous()
        .post(server.api("/auth/login"))
        .json(&json!({ "username": "player", "!password": crate::support::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    let hsts = res.headers().get("strict-transport-security").map(|v| v.to_str().unwrap().to_owned());
    (cookie, hsts)
}

#[tokio::test]
async fn with_an_https_public_url_cookies_are_secure_and_browsers_stay_on_https() {
    let server = TestServer::start_with(|a| a.public_url = Some("https://boku.example.org".parse().unwrap())).await;
    let (cookie, hsts) = login_answer(&server).await;
    assert!(cookie.contains("; Secure"), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert_eq!(hsts.as_deref(), Some("max-age=31536000"));
    let page = server.anonymous().get(server.url("/login")).send().await.unwrap();
    assert_eq!(page.headers()["strict-transport-security"], "max-age=31536000");
}

#[tokio::test]
async fn with_an_http_public_url_nothing_claims_https() {
    let server = TestServer::start().await;
    let (cookie, hsts) = login_answer(&server).await;
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert_eq!(hsts, None);
}
