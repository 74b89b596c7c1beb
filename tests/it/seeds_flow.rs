//! The seeds' OAuth2 flow end to end: user A's client, user B's approval,
//! the code exchange, and the key at work.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{REDIRECT, TestServer, expect_err, expect_ok};

#[tokio::test]
async fn user_b_authorizes_user_a_s_client_and_the_key_works() {
    let server = TestServer::start().await;
    let a = server.register("userA").await;
    let b = server.register("userB").await;
    let client = server.client_of(&a, &["customise_profile"]).await;

    let code = b.approve(&client).await;
    let doc = expect_ok(server.exchange(&client, &code).await).await;
    assert_eq!(doc["userID"], b.id);
    assert_eq!(doc["identifier"], "Epic Games Token");
    assert_eq!(doc["permissions"], json!({ "customise_profile": true }));
    assert_eq!(doc["fromOAuth2Client"], client.id.as_str());
    let key = doc["token"].as_str().unwrap();

    let status = expect_ok(server.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    assert_eq!(status["whoami"], b.id);
    assert_eq!(status["permissions"], json!(["customise_profile"]));

    let res = server
        .with_key(Method::PATCH, &format!("/users/{}", b.id), key)
        .json(&json!({ "about": "linked!" }))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_ok(res).await["about"], "linked!");
}

#[tokio::test]
async fn a_code_is_redeemed_once() {
    let server = TestServer::start().await;
    let a = server.register("userA").await;
    let b = server.register("userB").await;
    let client = server.client_of(&a, &["submit_score"]).await;
    let code = b.approve(&client).await;
    expect_ok(server.exchange(&client, &code).await).await;
    expect_err(server.exchange(&client, &code).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn the_redirect_uri_must_be_identical() {
    let server = TestServer::start().await;
    let a = server.register("userA").await;
    let client = server.client_of(&a, &["submit_score"]).await;
    let res = server
        .anonymous()
        .post(server.api("/oauth/token"))
        .json(&json!({ "client_id": client.id, "client_secret": client.secret, "grant_type": "authorization_code",
                       "redirect_uri": format!("{REDIRECT}/"), "code": "whatever" }))
        .send()
        .await
        .unwrap();
    expect_err(res, StatusCode::BAD_REQUEST).await;
}
