//! `/api/v1/clients`: an integration author's API clients — registration and
//! its rules, listing, editing, secret reset, deletion and the cap.

use futures::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{REDIRECT, TestServer, expect_err, expect_ok};

fn draft() -> Value {
    json!({ "name": "Epic Games", "redirectUri": REDIRECT, "permissions": ["customise_profile", "submit_score"] })
}

/// `draft()` with `field` set to `value`.
fn draft_with(field: &str, value: Value) -> Value {
    let mut d = draft();
    d[field] = value;
    d
}

#[tokio::test]
async fn creating_a_client_shows_its_secret_once() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let res = author.post("/clients/create", draft_with("webhookUri", json!("https://integration.example/hook"))).await;
    let created = expect_ok(res).await;
    let id = created["clientID"].as_str().unwrap();
    let secret = created["clientSecret"].as_str().unwrap();
    assert!(id.starts_with("CI") && id.len() > 20, "{id}");
    assert!(secret.starts_with("CS") && secret.len() > 20, "{secret}");
    assert_eq!(created["name"], "Epic Games");
    assert_eq!(created["author"], author.id);
    assert_eq!(created["redirectUri"], REDIRECT);
    assert_eq!(created["webhookUri"], "https://integration.example/hook");
    assert_eq!(created["requestedPermissions"], json!(["submit_score", "customise_profile"]));
    assert_eq!(created["apiKeyFormat"], Value::Null);
    assert_eq!(created["apiKeyFilename"], Value::Null);

    let listed = expect_ok(author.get("/clients").await).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["clientID"], id);
    assert!(listed[0].get("clientSecret").is_none(), "{listed}");
    assert!(!listed.to_string().contains(secret));

    let public = expect_ok(server.anonymous().get(server.api(&format!("/clients/{id}"))).send().await.unwrap()).await;
    assert_eq!(public["name"], "Epic Games");
    assert_eq!(public["author"], author.id);
    assert!(public.get("clientSecret").is_none(), "{public}");
    assert!(!public.to_string().contains(secret));
}

#[tokio::test]
async fn every_client_field_is_validated() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let cases = [
        ("name", json!("ab"), "name"),
        ("name", json!("   ab   "), "name"),
        ("name", json!("x".repeat(81)), "name"),
        ("name", json!("bell\u{7}name"), "name"),
        ("redirectUri", json!("javascript:alert(1)"), "redirectUri"),
        ("redirectUri", json!("ftp://integration.example/cb"), "redirectUri"),
        ("redirectUri", json!("not a url"), "redirectUri"),
        ("redirectUri", json!("https://integration.example/cb#frag"), "redirectUri"),
        ("webhookUri", json!("file:///etc/passwd"), "webhookUri"),
        ("webhookUri", json!("data:text/html,hi"), "webhookUri"),
        ("permissions", json!([]), "permissions"),
        ("permissions", json!(["root"]), "root"),
        ("redirectUri", json!("myapp://cb"), "redirectUri"),
        ("redirectUri", json!("tachi_hook:cb"), "redirectUri"),
        ("permissions", json!("submit_score"), "permissions"),
        ("apiKeyFormat", json!("no placeholder here"), "%%TACHI_KEY%%"),
        ("apiKeyTemplate", json!("no placeholder here"), "%%TACHI_KEY%%"),
        ("apiKeyFilename", json!("../config.json"), "apiKeyFilename"),
        ("apiKeyFilename", json!("dir/config.json"), "apiKeyFilename"),
        ("apiKeyFilename", json!("C:\\config.json"), "apiKeyFilename"),
        ("apiKeyFilename", json!("setup.exe"), "apiKeyFilename"),
        ("apiKeyFilename", json!("run.BAT"), "apiKeyFilename"),
        ("apiKeyFilename", json!("hook.sh"), "apiKeyFilename"),
        ("apiKeyFilename", json!("hook.ps1"), "apiKeyFilename"),
        ("apiKeyFilename", json!("hook.js"), "apiKeyFilename"),
        ("apiKeyFilename", json!(".hidden"), "apiKeyFilename"),
        ("apiKeyFilename", json!(""), "apiKeyFilename"),
    ];
    for (field, value, needle) in cases {
        let body = draft_with(field, value);
        let d = expect_err(author.post("/clients/create", body.clone()).await, StatusCode::BAD_REQUEST).await;
        assert!(d.contains(needle), "{body}: {d}");
    }
    let d = expect_err(
        author.post("/clients/create", json!({ "redirectUri": REDIRECT, "permissions": ["submit_score"] })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(d.contains("name"), "{d}");
    let d = expect_err(author.post("/clients/create", json!({ "name": "Epic Games" })).await, StatusCode::BAD_REQUEST)
        .await;
    assert!(d.contains("permissions"), "{d}");
    assert_eq!(expect_ok(author.get("/clients").await).await, json!([]), "nothing was created");
}

#[tokio::test]
async fn valid_edge_cases_are_accepted() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let ok = [
        json!({ "name": "abc", "permissions": ["submit_score"] }),
        json!({ "name": "é".repeat(80), "redirectUri": "http://localhost:8080/cb", "permissions": ["submit_score"] }),
        json!({ "name": "Map Form", "permissions": { "submit_score": true, "delete_score": false } }),
        json!({ "name": "Score Hook", "permissions": ["submit_score"],
                "apiKeyTemplate": "{\"apiKey\": \"%%TACHI_KEY%%\"}", "apiKeyFilename": "hook-config.json" }),
    ];
    let mut created = vec![];
    for body in ok {
        created.push(expect_ok(author.post("/clients/create", body).await).await);
    }
    assert_eq!(created[0]["redirectUri"], Value::Null, "no redirect URI: Client File Flow only");
    assert_eq!(created[2]["requestedPermissions"], json!(["submit_score"]));
    assert_eq!(created[3]["apiKeyFormat"], "{\"apiKey\": \"%%TACHI_KEY%%\"}", "apiKeyTemplate is an alias");
    assert_eq!(created[3]["apiKeyFilename"], "hook-config.json");
}

#[tokio::test]
async fn the_author_edits_a_client_but_never_its_permissions() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let client = author.create_client(draft_with("webhookUri", json!("https://integration.example/hook"))).await;
    let path = format!("/clients/{}", client.id);

    let edited = expect_ok(
        author
            .patch(
                &path,
                json!({
                    "name": "Epic Games 2", "redirectUri": "https://integration.example/v2", "webhookUri": null,
                    "apiKeyTemplate": "key=%%TACHI_KEY%%", "apiKeyFilename": "tachi.conf",
                }),
            )
            .await,
    )
    .await;
    assert_eq!(edited["name"], "Epic Games 2");
    assert_eq!(edited["redirectUri"], "https://integration.example/v2");
    assert_eq!(edited["webhookUri"], Value::Null, "null clears");
    assert_eq!(edited["apiKeyFormat"], "key=%%TACHI_KEY%%");
    assert_eq!(edited["apiKeyFilename"], "tachi.conf");
    assert!(edited.get("clientSecret").is_none());

    // An absent field is left alone; invalid values are refused as at creation.
    let edited = expect_ok(author.patch(&path, json!({ "name": "Epic Games 3" })).await).await;
    assert_eq!(edited["redirectUri"], "https://integration.example/v2");
    let d =
        expect_err(author.patch(&path, json!({ "redirectUri": "javascript:alert(1)" })).await, StatusCode::BAD_REQUEST)
            .await;
    assert!(d.contains("redirectUri"), "{d}");

    for permissions in [json!(["delete_score"]), json!({ "delete_score": true })] {
        let res = author.patch(&path, json!({ "permissions": permissions.clone() })).await;
        let d = expect_err(res, StatusCode::BAD_REQUEST).await;
        assert!(d.contains("permissions"), "{d}");
        let res = author.patch(&path, json!({ "requestedPermissions": permissions })).await;
        expect_err(res, StatusCode::BAD_REQUEST).await;
    }
    let now = expect_ok(server.anonymous().get(server.api(&path)).send().await.unwrap()).await;
    assert_eq!(now["requestedPermissions"], json!(["submit_score", "customise_profile"]));
    assert_eq!(now["name"], "Epic Games 3");
}

#[tokio::test]
async fn only_the_author_manages_a_client() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let other = server.register("other").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let path = format!("/clients/{}", client.id);

    let d = expect_err(other.patch(&path, json!({ "name": "Stolen" })).await, StatusCode::FORBIDDEN).await;
    assert!(d.contains("author"), "{d}");
    expect_err(other.post(&format!("{path}/reset-secret"), json!({})).await, StatusCode::FORBIDDEN).await;
    expect_err(other.delete(&path).await, StatusCode::FORBIDDEN).await;
    assert_eq!(expect_ok(other.get("/clients").await).await, json!([]), "the list is your clients only");

    // Guests and API keys cannot manage clients at all.
    let res = server.anonymous().patch(server.api(&path)).json(&json!({ "name": "Stolen" })).send().await.unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;
    expect_err(server.anonymous().get(server.api("/clients")).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    let key = author.personal_key(&["submit_score"]).await;
    for (method, p) in [(Method::GET, "/clients".to_owned()), (Method::DELETE, path.clone())] {
        expect_err(server.with_key(method, &p, &key).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    }
    let res = server.with_key(Method::POST, "/clients/create", &key).json(&draft()).send().await.unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;

    let public = expect_ok(server.anonymous().get(server.api(&path)).send().await.unwrap()).await;
    assert_eq!(public["name"], "Epic Games");
    expect_err(
        server.anonymous().get(server.api("/clients/CIdoesnotexist")).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_err(author.patch("/clients/CIdoesnotexist", json!({ "name": "Nope" })).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn resetting_the_secret_retires_the_old_one_and_keeps_issued_keys() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let player = server.register("playerB").await;
    let mut client = server.client_of(&author, &["customise_profile"]).await;
    let key = server.authorize(&player, &client).await;

    let reset = expect_ok(author.post(&format!("/clients/{}/reset-secret", client.id), json!({})).await).await;
    let new_secret = reset["clientSecret"].as_str().unwrap().to_owned();
    assert!(new_secret.starts_with("CS"));
    assert_ne!(new_secret, client.secret);
    assert_eq!(reset["clientID"], client.id.as_str());

    let code = player.approve(&client).await;
    expect_err(server.exchange(&client, &code).await, StatusCode::FORBIDDEN).await;
    client.secret = new_secret;
    expect_ok(server.exchange(&client, &code).await).await;

    let status = expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
    assert_eq!(status["whoami"], player.id, "keys issued before the reset stay valid");
}

#[tokio::test]
async fn deleting_a_client_revokes_every_key_it_issued() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let player = server.register("playerB").await;
    let client = server.client_of(&author, &["customise_profile"]).await;
    let other_client = server.client_of(&author, &["customise_profile"]).await;
    let oauth_key = server.authorize(&player, &client).await;
    // Another player's: the file flow would replace this player's OAuth key.
    let file_player = server.register("playerC").await;
    let file_key = expect_ok(file_player.request_key(json!({ "clientID": client.id })).await).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let unrelated = server.authorize(&player, &other_client).await;
    let personal = player.personal_key(&["submit_score"]).await;
    // Every key in use (and so in the server's bearer cache) before the deletion.
    for key in [&oauth_key, &file_key, &unrelated, &personal] {
        expect_ok(server.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    }

    expect_ok(author.delete(&format!("/clients/{}", client.id)).await).await;

    for key in [&oauth_key, &file_key] {
        let res = server.with_key(Method::GET, "/status", key).send().await.unwrap();
        expect_err(res, StatusCode::UNAUTHORIZED).await;
    }
    for key in [&unrelated, &personal] {
        expect_ok(server.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    }
    expect_err(
        server.anonymous().get(server.api(&format!("/clients/{}", client.id))).send().await.unwrap(),
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_err(author.delete(&format!("/clients/{}", client.id)).await, StatusCode::NOT_FOUND).await;
    assert_eq!(player.keys().await.len(), 2);
}

#[tokio::test]
async fn a_user_owns_at_most_the_cap_of_clients() {
    let server = TestServer::start_with(|a| a.client_cap = 2).await;
    let author = server.register("authorA").await;
    let first = server.client_of(&author, &["submit_score"]).await;
    server.client_of(&author, &["submit_score"]).await;
    let d = expect_err(author.post("/clients/create", draft()).await, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("maximum of 2"), "{d}");
    // Deleting one makes room again; another user has their own allowance.
    expect_ok(author.delete(&format!("/clients/{}", first.id)).await).await;
    expect_ok(author.post("/clients/create", draft()).await).await;
    let other = server.register("other").await;
    expect_ok(other.post("/clients/create", draft()).await).await;
    // Admins are exempt.
    server.set_user_flags("authorA", Some(true), None).await;
    expect_ok(author.post("/clients/create", draft()).await).await;
}

#[tokio::test]
async fn concurrent_creations_never_exceed_the_cap() {
    let server = TestServer::start_with(|a| a.client_cap = 3).await;
    let author = server.register("authorA").await;
    let answers = join_all((0..10).map(|_| author.post("/clients/create", draft()))).await;
    let mut created = 0;
    for res in answers {
        match res.status() {
            StatusCode::OK => created += 1,
            _ => {
                let d = expect_err(res, StatusCode::BAD_REQUEST).await;
                assert!(d.contains("maximum"), "{d}");
            }
        }
    }
    assert_eq!(created, 3);
    assert_eq!(expect_ok(author.get("/clients").await).await.as_array().unwrap().len(), 3);
}
