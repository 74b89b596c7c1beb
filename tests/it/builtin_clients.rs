//! Built-in clients (prefix CX): defined by the operator in a configuration
//! file, e.g. for score hooks, and usable by every player.

use std::io::Write;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tachi_auth::App;
use tachi_auth::config::ServeArgs;

use crate::support::{TestServer, expect_err, expect_ok};

fn config_file(clients: Value) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(clients.to_string().as_bytes()).unwrap();
    file
}

fn score_hook() -> Value {
    json!([{
        "clientID": "CXscorehook",
        "name": "Tachi Score Hook",
        "permissions": ["submit_score"],
        "apiKeyFormat": "{\"apiKey\": \"%%TACHI_KEY%%\"}",
        "apiKeyFilename": "hook-config.json"
    }])
}

#[tokio::test]
async fn a_built_in_client_serves_the_client_file_flow_of_every_player() {
    let file = config_file(score_hook());
    let path = file.path().to_owned();
    let server = TestServer::start_with(|a| a.builtin_clients = Some(path)).await;

    let client = expect_ok(server.anonymous().get(server.api("/clients/CXscorehook")).send().await.unwrap()).await;
    assert_eq!(client["name"], "Tachi Score Hook");
    assert_eq!(client["author"], Value::Null);
    assert_eq!(client["apiKeyFilename"], "hook-config.json");

    let player = server.register("player").await;
    let doc = expect_ok(
        player.post(&format!("/users/{}/api-tokens/create", player.id), json!({ "clientID": "CXscorehook" })).await,
    )
    .await;
    assert_eq!(doc["permissions"], json!({ "submit_score": true }));
    assert_eq!(doc["fromOAuth2Client"], "CXscorehook");
    let status =
        expect_ok(server.with_key(Method::GET, "/status", doc["token"].as_str().unwrap()).send().await.unwrap()).await;
    assert_eq!(status["whoami"], player.id);

    // Nobody edits it through the API: the configuration is its source.
    let res = player.patch("/clients/CXscorehook", json!({ "name": "Hijacked" })).await;
    expect_err(res, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn restarting_with_a_changed_file_updates_the_client() {
    let first = config_file(score_hook());
    let path = first.path().to_owned();
    let server = TestServer::start_with(|a| a.builtin_clients = Some(path)).await;
    let mut changed = score_hook();
    changed[0]["name"] = json!("Tachi Score Hook 2");
    let second = config_file(changed);
    let path = second.path().to_owned();
    let again = TestServer::start_on_database(server.database_url.clone(), |a| a.builtin_clients = Some(path)).await;
    let client = expect_ok(again.anonymous().get(again.api("/clients/CXscorehook")).send().await.unwrap()).await;
    assert_eq!(client["name"], "Tachi Score Hook 2");
}

#[tokio::test]
async fn an_invalid_file_stops_the_start_with_a_clear_reason() {
    for (clients, reason) in [
        (json!([{ "clientID": "CIforged", "name": "Forged", "permissions": ["submit_score"] }]), "must start with CX"),
        (json!([{ "clientID": "CXhook", "name": "Hook", "permissions": ["root"] }]), "unknown permission"),
        (
            json!([{ "clientID": "CXhook", "name": "Hook", "permissions": ["submit_score"], "apiKeyFilename": "run.exe" }]),
            "extension",
        ),
        (json!({ "not": "a list" }), "invalid type"),
    ] {
        let file = config_file(clients);
        let mut args = ServeArgs::defaults();
        let dir = tempfile::tempdir().unwrap();
        args.database.database_url = format!("sqlite://{}", dir.path().join("db").display());
        args.builtin_clients = Some(file.path().to_owned());
        let err = App::build(&args).await.err().expect("the start fails").to_string();
        assert!(err.contains(reason), "{err}");
    }
}
