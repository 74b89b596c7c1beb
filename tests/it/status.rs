//! `GET/POST /api/v1/status`: who the server thinks the caller is (guest,
//! session, API key), the echo, and how bad credentials are answered.

use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ALL_PERMISSIONS, TestServer, expect_err, expect_ok};

#[tokio::test]
async fn a_guest_is_nobody_with_no_permissions() {
    let server = TestServer::start().await;
    let status = expect_ok(server.anonymous().get(server.api("/status")).send().await.unwrap()).await;
    assert_eq!(status["whoami"], Value::Null);
    assert_eq!(status["permissions"], json!([]));
    assert_eq!(status["echo"], Value::Null);
    assert!(status["serverTime"].as_i64().unwrap() >= status["startTime"].as_i64().unwrap());
    assert!(status["version"].is_string());
}

#[tokio::test]
async fn a_session_is_its_user_with_every_permission() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let status = expect_ok(user.get("/status").await).await;
    assert_eq!(status["whoami"], user.id);
    assert_eq!(status["permissions"], json!(ALL_PERMISSIONS));
}

#[tokio::test]
async fn a_key_is_its_user_with_the_key_s_permissions() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let key = user.personal_key(&["manage_rivals", "submit_score"]).await;
    for method in [Method::GET, Method::POST] {
        let status = expect_ok(server.with_key(method, "/status", &key).send().await.unwrap()).await;
        assert_eq!(status["whoami"], user.id);
        assert_eq!(status["permissions"], json!(["submit_score", "manage_rivals"]));
    }
}

#[tokio::test]
async fn status_echoes_the_query_or_the_body() {
    let server = TestServer::start().await;
    let http = server.anonymous();
    let got = expect_ok(http.get(server.api("/status?echo=h%C3%A9llo")).send().await.unwrap()).await;
    assert_eq!(got["echo"], "héllo");
    let got = expect_ok(http.post(server.api("/status")).json(&json!({ "echo": "ping" })).send().await.unwrap()).await;
    assert_eq!(got["echo"], "ping");
    let got = expect_ok(http.post(server.api("/status")).send().await.unwrap()).await;
    assert_eq!(got["echo"], Value::Null, "POST without a body is fine");
}

#[tokio::test]
async fn another_authorization_scheme_is_a_400() {
    let server = TestServer::start().await;
    for header in ["Basic dXNlcjpwYXNz", "Token abc", "Digest username=\"x\""] {
        let res = server.anonymous().get(server.api("/status")).header(AUTHORIZATION, header).send().await.unwrap();
        let d = expect_err(res, StatusCode::BAD_REQUEST).await;
        assert!(d.contains("Bearer"), "{header}: {d}");
    }
}

#[tokio::test]
async fn an_unknown_bearer_key_is_a_401_with_an_invalid_token_challenge() {
    let server = TestServer::start().await;
    for method in [Method::GET, Method::POST] {
        let res = server.with_key(method, "/status", "not-a-real-key").send().await.unwrap();
        assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);
        expect_err(res, StatusCode::UNAUTHORIZED).await;
    }
    // An empty bearer value is no key either.
    let res = server.anonymous().get(server.api("/status")).header(AUTHORIZATION, "Bearer ").send().await.unwrap();
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);
    expect_err(res, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_bearer_key_takes_precedence_over_the_session_cookie() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let key = user.personal_key(&["submit_score"]).await;
    let res = user.http.get(user.api("/status")).bearer_auth(&key).send().await.unwrap();
    assert_eq!(expect_ok(res).await["permissions"], json!(["submit_score"]));
    let res = user.http.get(user.api("/status")).bearer_auth("unknown").send().await.unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;
}
