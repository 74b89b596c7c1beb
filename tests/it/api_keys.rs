//! `/api/v1/users/:userID/api-tokens`: a user's API keys — listing, personal
//! keys, the Client File Flow's keys, and revocation. Session only.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestServer, expect_err, expect_ok};

#[tokio::test]
async fn a_personal_key_has_the_permissions_asked_in_either_form() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    for permissions in [
        json!(["manage_targets", "submit_score"]),
        json!({ "submit_score": true, "manage_targets": true, "delete_score": false }),
    ] {
        let doc =
            expect_ok(user.request_key(json!({ "permissions": permissions, "identifier": "my script" })).await).await;
        assert_eq!(doc["userID"], user.id);
        assert_eq!(doc["identifier"], "my script");
        assert_eq!(doc["permissions"], json!({ "submit_score": true, "manage_targets": true }));
        assert_eq!(doc["fromOAuth2Client"], serde_json::Value::Null);
        let token = doc["token"].as_str().unwrap();
        let status = expect_ok(server.with_key(Method::GET, "/status", token).send().await.unwrap()).await;
        assert_eq!(status["permissions"], json!(["submit_score", "manage_targets"]));
    }
    let doc = expect_ok(user.request_key(json!({ "permissions": ["submit_score"] })).await).await;
    assert!(doc["identifier"].as_str().is_some_and(|i| !i.is_empty()), "a default identifier");

    for bad in [
        json!({ "permissions": [] }),
        json!({ "permissions": ["sudo"] }),
        json!({}),
        json!({ "permissions": ["submit_score"], "identifier": "" }),
        json!({ "permissions": ["submit_score"], "identifier": "x".repeat(121) }),
    ] {
        let d = expect_err(user.request_key(bad.clone()).await, StatusCode::BAD_REQUEST).await;
        assert!(d.contains("permission") || d.contains("identifier"), "{bad}: {d}");
    }
}

#[tokio::test]
async fn the_list_shows_keys_without_their_tokens() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let user = server.register("playerB").await;
    let client = server.client_of(&author, &["customise_profile"]).await;
    let personal = user.personal_key(&["submit_score"]).await;
    let oauth = server.authorize(&user, &client).await;

    let keys = user.keys().await;
    assert_eq!(keys.len(), 2);
    let text = serde_json::to_string(&keys).unwrap();
    assert!(!text.contains(&personal) && !text.contains(&oauth), "no tokens in the list: {text}");
    assert!(keys.iter().all(|k| k.get("token").is_none() && k["id"].is_string()));
    let from_client = keys.iter().find(|k| k["fromOAuth2Client"] == client.id.as_str()).expect("the client's key");
    assert_eq!(from_client["identifier"], "Epic Games Token");
    assert_eq!(from_client["clientName"], "Epic Games");
    assert_eq!(from_client["permissions"], json!({ "customise_profile": true }));
}

#[tokio::test]
async fn using_a_key_records_when_it_was_last_used() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let key = user.personal_key(&["submit_score"]).await;
    assert_eq!(user.keys().await[0]["lastUsed"], serde_json::Value::Null, "never used yet");

    // The server's own clock: the test server's runs from a start point and
    // may trail the system's by a millisecond.
    let before = server.clock.now_ms();
    expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
    // Written in the background, off the request's path: wait for it (bounded).
    let started = std::time::Instant::now();
    let last_used = loop {
        if let Some(t) = user.keys().await[0]["lastUsed"].as_i64() {
            break t;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "the use was never recorded");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert!(last_used >= before, "{last_used} is the time of the use, not before {before}");
}

#[tokio::test]
async fn the_client_file_flow_issues_a_key_with_the_client_s_permissions_and_replaces_the_last_one() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let user = server.register("playerB").await;
    let hook = author
        .create_client(json!({ "name": "Score Hook", "permissions": ["submit_score", "customise_score"],
                               "apiKeyFormat": "{\"key\": \"%%TACHI_KEY%%\"}", "apiKeyFilename": "hook.json" }))
        .await;

    let res = user.request_key(json!({ "clientID": hook.id })).await;
    let first = expect_ok(res).await;
    assert_eq!(first["permissions"], json!({ "submit_score": true, "customise_score": true }));
    assert_eq!(first["fromOAuth2Client"], hook.id.as_str());
    assert_eq!(first["identifier"], "Score Hook Token");
    let first_token = first["token"].as_str().unwrap().to_owned();
    expect_ok(server.with_key(Method::GET, "/status", &first_token).send().await.unwrap()).await;

    let res = user.request_key(json!({ "clientID": hook.id })).await;
    let v: serde_json::Value = res.json().await.unwrap();
    assert_eq!(v["success"], true, "{v}");
    let description = v["description"].as_str().unwrap();
    assert!(description.contains("revoked"), "the description says the old key was replaced: {description}");
    let second_token = v["body"]["token"].as_str().unwrap();
    assert_ne!(second_token, first_token);

    expect_err(server.with_key(Method::GET, "/status", &first_token).send().await.unwrap(), StatusCode::UNAUTHORIZED)
        .await;
    expect_ok(server.with_key(Method::GET, "/status", second_token).send().await.unwrap()).await;
    assert_eq!(user.keys().await.len(), 1);

    expect_err(user.request_key(json!({ "clientID": "CIunknown" })).await, StatusCode::NOT_FOUND).await;
    let d = expect_err(
        user.request_key(json!({ "clientID": hook.id, "permissions": ["submit_score"] })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(d.contains("either"), "{d}");
}

#[tokio::test]
async fn a_token_is_its_key_s_id_then_a_secret_and_only_the_whole_of_it_works() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let token = user.personal_key(&["submit_score"]).await;
    let id = user.keys().await[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 80, "{token}");
    assert!(token.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "bare hex: {token}");
    assert_eq!(format!("AK{}", &token[..40]), id, "the token begins with its key's id");
    expect_ok(server.with_key(Method::GET, "/status", &token).send().await.unwrap()).await;

    // The id is no secret: with any other second half, it is refused.
    let (named, secret) = token.split_at(40);
    let mut flipped = secret.to_owned().into_bytes();
    flipped[39] = if flipped[39] == b'0' { b'1' } else { b'0' };
    for forged in [
        format!("{named}{}", String::from_utf8(flipped).unwrap()),
        format!("{named}{}", "0".repeat(40)),
        format!("{named}{named}"),
        named.to_owned(),
        token.to_uppercase(),
        format!("{token}0"),
    ] {
        let res = server.with_key(Method::GET, "/status", &forged).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{forged}");
    }
    expect_ok(server.with_key(Method::GET, "/status", &token).send().await.unwrap()).await;
}

#[tokio::test]
async fn a_revoked_key_stops_working_at_once_even_right_after_use() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let token = user.personal_key(&["submit_score"]).await;
    let id = user.keys().await[0]["id"].as_str().unwrap().to_owned();
    // Used first, so the server's bearer cache holds it: revocation must reach that too.
    expect_ok(server.with_key(Method::GET, "/status", &token).send().await.unwrap()).await;

    expect_ok(user.delete(&format!("/users/{}/api-tokens/{id}", user.id)).await).await;
    let res = server.with_key(Method::GET, "/status", &token).send().await.unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;
    assert!(user.keys().await.is_empty());

    let d = expect_err(user.delete(&format!("/users/{}/api-tokens/{id}", user.id)).await, StatusCode::NOT_FOUND).await;
    assert!(d.contains(&id), "{d}");
    expect_err(user.delete(&format!("/users/{}/api-tokens/AKnosuchkey", user.id)).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn nobody_lists_creates_or_revokes_another_user_s_keys() {
    let server = TestServer::start().await;
    let victim = server.register("victim").await;
    let other = server.register("other").await;
    let token = victim.personal_key(&["submit_score"]).await;
    let id = victim.keys().await[0]["id"].as_str().unwrap().to_owned();
    let base = format!("/users/{}/api-tokens", victim.id);

    expect_err(other.get(&base).await, StatusCode::FORBIDDEN).await;
    expect_err(
        other.post(&format!("{base}/create"), json!({ "permissions": ["submit_score"] })).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    expect_err(other.delete(&format!("{base}/{id}")).await, StatusCode::FORBIDDEN).await;
    // Revoking with one's own user id cannot reach someone else's key either.
    expect_err(other.delete(&format!("/users/{}/api-tokens/{id}", other.id)).await, StatusCode::NOT_FOUND).await;
    expect_err(server.anonymous().get(server.api(&base)).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;

    expect_ok(server.with_key(Method::GET, "/status", &token).send().await.unwrap()).await;
    assert_eq!(victim.keys().await.len(), 1);
}

#[tokio::test]
async fn a_bearer_key_cannot_manage_keys() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let token = user.personal_key(&["submit_score", "customise_profile"]).await;
    let id = user.keys().await[0]["id"].as_str().unwrap().to_owned();
    let base = format!("/users/{}/api-tokens", user.id);

    // An API key is no session: 401, as the original server answers.
    let d =
        expect_err(server.with_key(Method::GET, &base, &token).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    assert!(d.contains("session"), "{d}");
    let res = server
        .with_key(Method::POST, &format!("{base}/create"), &token)
        .json(&json!({ "permissions": ["delete_score"] }))
        .send()
        .await
        .unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;
    expect_err(
        server.with_key(Method::DELETE, &format!("{base}/{id}"), &token).send().await.unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(user.keys().await.len(), 1);
}

/// The list is read and sent a page at a time (500 keys); across pages it
/// is still every key once, oldest first, and its description counts them.
#[tokio::test]
async fn a_long_list_holds_every_key_once_in_order() {
    let server = TestServer::start_with(|a| a.personal_key_cap = 2000).await;
    let user = server.register("playerB").await;
    let mut issued = std::collections::HashSet::new();
    for chunk in 0..11 {
        let made = futures::future::join_all((0..91).map(|i| {
            user.request_key(json!({ "permissions": ["submit_score"], "identifier": format!("k{chunk}-{i}") }))
        }))
        .await;
        for res in made {
            issued.insert(expect_ok(res).await["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(issued.len(), 1001);

    let res = user.get(&format!("/users/{}/api-tokens", user.id)).await;
    let envelope: serde_json::Value = res.json().await.expect("the whole list is one JSON document");
    assert_eq!(envelope["success"], true);
    assert_eq!(envelope["description"], "Returned 1001 API keys.");
    let keys = envelope["body"].as_array().unwrap();
    let listed: Vec<&str> = keys.iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 1001, "every key, none twice");
    assert_eq!(listed.iter().copied().collect::<std::collections::HashSet<_>>().len(), 1001);
    assert!(listed.iter().all(|id| issued.contains(*id)));
    let order: Vec<(i64, &str)> =
        keys.iter().map(|k| (k["createdOn"].as_i64().unwrap(), k["id"].as_str().unwrap())).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "oldest first, by creation then id");

    // A user without keys gets an empty list, still a whole envelope.
    let empty = server.register("playerC").await;
    assert_eq!(empty.keys().await, Vec::<serde_json::Value>::new());
}
