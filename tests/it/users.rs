//! `/api/v1/users/:userID`: the public profile, and the example resource an
//! API key protects (`PATCH` needs the user themself and `customise_profile`).

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestServer, expect_err, expect_ok};

#[tokio::test]
async fn anyone_reads_a_public_profile() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let res = server.anonymous().get(server.api(&format!("/users/{}", user.id))).send().await.unwrap();
    let profile = expect_ok(res).await;
    assert_eq!(profile["id"], user.id);
    assert_eq!(profile["username"], "playerB");
    assert_eq!(profile["usernameLowercase"], "playerb");
    assert_eq!(profile["about"], "");
    assert_eq!(profile["status"], Value::Null);
    let text = profile.to_string();
    assert!(!text.contains("example.org") && !text.contains("password"), "public fields only: {text}");
}

#[tokio::test]
async fn an_unknown_user_is_404_whether_named_by_id_or_name() {
    let server = TestServer::start().await;
    let http = server.anonymous();
    let d = expect_err(http.get(server.api("/users/424242")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    assert_eq!(d, "The user 424242 does not exist.");
    // Not digits: a username, as the original server reads it.
    for nobody in ["abc", "1.5", "99999999999999999999999"] {
        let d =
            expect_err(http.get(server.api(&format!("/users/{nobody}"))).send().await.unwrap(), StatusCode::NOT_FOUND)
                .await;
        assert_eq!(d, format!("The user {nobody} does not exist."));
    }
}

#[tokio::test]
async fn a_user_edits_their_profile_with_their_session() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let me = format!("/users/{}", user.id);
    let profile = expect_ok(user.patch(&me, json!({ "about": "I play IIDX", "status": "grinding" })).await).await;
    assert_eq!(profile["about"], "I play IIDX");
    assert_eq!(profile["status"], "grinding");

    // An absent field is left alone; status null clears the status.
    let profile = expect_ok(user.patch(&me, json!({ "status": null })).await).await;
    assert_eq!(profile["about"], "I play IIDX");
    assert_eq!(profile["status"], Value::Null);
    let public = expect_ok(server.anonymous().get(server.api(&me)).send().await.unwrap()).await;
    assert_eq!(public["status"], Value::Null);
    assert_eq!(public["about"], "I play IIDX");

    let d = expect_err(user.patch(&me, json!({})).await, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("nothing to change"), "{d}");
    let d = expect_err(user.patch(&me, json!({ "status": "x".repeat(141) })).await, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("status"), "{d}");
}

#[tokio::test]
async fn a_key_needs_customise_profile_to_edit_the_profile() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let me = format!("/users/{}", user.id);
    let weak = user.personal_key(&["submit_score"]).await;
    let res = server.with_key(Method::PATCH, &me, &weak).json(&json!({ "about": "hacked" })).send().await.unwrap();
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer error="insufficient_scope""#);
    let d = expect_err(res, StatusCode::FORBIDDEN).await;
    assert!(d.contains("customise_profile"), "{d}");

    let strong = user.personal_key(&["customise_profile"]).await;
    let res = server.with_key(Method::PATCH, &me, &strong).json(&json!({ "about": "via key" })).send().await.unwrap();
    assert_eq!(expect_ok(res).await["about"], "via key");
}

#[tokio::test]
async fn nobody_edits_someone_else_s_profile() {
    let server = TestServer::start().await;
    let victim = server.register("victim").await;
    let other = server.register("other").await;
    let path = format!("/users/{}", victim.id);
    expect_err(other.patch(&path, json!({ "about": "pwned" })).await, StatusCode::FORBIDDEN).await;
    let key = other.personal_key(&["customise_profile"]).await;
    let res = server.with_key(Method::PATCH, &path, &key).json(&json!({ "about": "pwned" })).send().await.unwrap();
    expect_err(res, StatusCode::FORBIDDEN).await;
    let res = server.anonymous().patch(server.api(&path)).json(&json!({ "about": "pwned" })).send().await.unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;
    let profile = expect_ok(server.anonymous().get(server.api(&path)).send().await.unwrap()).await;
    assert_eq!(profile["about"], "");
}
