//! Signed events to integrations: when a client's keys are revoked, the
//! player disconnects it or its secret is reset, its `webhookUri` receives a
//! Standard Webhooks request, verified here by the specification's algorithm
//! written independently (and by its published library). Delivery is
//! durable: it survives the endpoint being down, the server being killed,
//! and several instances, each event arriving once. Webhooks never reach a
//! private address unless the operator allows it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::binary::{RunningBinary, run_command};
use crate::support::webhooks::{Receiver, verify, verify_with_library};
use crate::support::{ApiClient, REDIRECT, TestServer, User, db, expect_err, expect_ok};

/// How long an event may take to arrive when nothing is in its way (the
/// server polls the outbox at least every second for other processes' events).
const ARRIVES_WITHIN: Duration = Duration::from_secs(10);

/// A server whose webhooks may reach loopback (the test's receiver), retrying fast.
async fn server() -> TestServer {
    TestServer::start_with(allow_loopback).await
}

fn allow_loopback(a: &mut tachi_auth::config::ServeArgs) {
    a.webhooks.webhook_allow_private = true;
    a.webhooks.webhook_retry_base_ms = 100;
}

/// A client of `author` whose webhook is `url`; and its signing secret.
async fn client_with_webhook(author: &User, url: &str) -> (ApiClient, String) {
    let client = author
        .create_client(json!({
            "name": "Hooked Integration", "redirectUri": REDIRECT, "webhookUri": url,
            "permissions": ["customise_profile"],
        }))
        .await;
    let secret = client.doc["webhookSecret"].as_str().expect("the creation returns the webhook secret").to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (client, secret)
}

/// `user` authorises `client`; the key's token and id.
async fn authorize(server: &TestServer, user: &User, client: &ApiClient) -> (String, String) {
    let code = user.approve(client).await;
    let doc = expect_ok(server.exchange(client, &code).await).await;
    (doc["token"].as_str().unwrap().to_owned(), doc["id"].as_str().unwrap().to_owned())
}

async fn revoke(user: &User, key_id: &str) {
    expect_ok(user.delete(&format!("/users/{}/api-tokens/{key_id}", user.id)).await).await;
}

async fn deliveries(author: &User, client: &ApiClient) -> Vec<Value> {
    let res = author.get(&format!("/clients/{}/webhook-deliveries", client.id)).await;
    expect_ok(res).await.as_array().unwrap().clone()
}

/// Every delivery received, each verified with `secret`: their bodies.
fn verified_events(receiver: &Receiver, secret: &str) -> Vec<Value> {
    receiver
        .received()
        .iter()
        .map(|d| {
            let event = verify(secret, d).unwrap_or_else(|e| panic!("{e}: {d:#?}"));
            assert_eq!(event["id"], d.id.as_str(), "the body names the webhook-id");
            assert_eq!(d.content_type, "application/json");
            event
        })
        .collect()
}

/// `(type, keyID, reason)` of each event, sorted, to compare as a whole.
fn summary(events: &[Value]) -> Vec<(String, String, String)> {
    let mut s: Vec<_> = events
        .iter()
        .map(|e| {
            let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
            (text(&e["type"]), text(&e["data"]["keyID"]), text(&e["data"]["reason"]))
        })
        .collect();
    s.sort();
    s
}

/// Waits until `count` events have arrived, then a little longer, and
/// checks that no event arrived twice.
async fn settle(receiver: &Receiver, count: usize) -> Vec<crate::support::webhooks::Delivery> {
    receiver.wait_for(count, ARRIVES_WITHIN).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let all = receiver.received();
    let mut seen = HashMap::new();
    for d in &all {
        *seen.entry(d.id.clone()).or_insert(0) += 1;
    }
    assert!(seen.values().all(|n| *n == 1), "an event arrived twice: {seen:?}");
    assert_eq!(all.len(), count, "{all:#?}");
    all
}

#[tokio::test]
async fn a_revocation_is_sent_signed_as_standard_webhooks_and_names_event_id_time_user_and_key() {
    let server = server().await;
    let receiver = Receiver::start().await;
    let author = server.register("hook_author").await;
    let player = server.register("hook_player").await;
    let (client, secret) = client_with_webhook(&author, &receiver.url).await;

    let mut delays = Vec::new();
    for round in 0..5 {
        let (token, key_id) = authorize(&server, &player, &client).await;
        let before = receiver.received().len();
        let sent = Instant::now();
        revoke(&player, &key_id).await;
        let answered = sent.elapsed();
        // The player's only key for the client: revoked, and the app disconnected.
        let got = receiver.wait_for(before + 2, ARRIVES_WITHIN).await;
        let arrived = got[before..].iter().map(|d| d.at).min().unwrap();
        delays.push(arrived.saturating_duration_since(sent + answered));
        let events: Vec<Value> = got[before..].iter().map(|d| verify(&secret, d).unwrap()).collect();
        let revoked = events.iter().find(|e| e["type"] == "key.revoked").expect("key.revoked");
        assert_eq!(revoked["data"]["userID"], player.id);
        assert_eq!(revoked["data"]["keyID"], key_id.as_str());
        assert_eq!(revoked["data"]["clientID"], client.id.as_str());
        assert_eq!(revoked["data"]["reason"], "revoked_by_user");
        assert!(revoked["timestamp"].as_str().unwrap().ends_with('Z'), "{revoked}");
        assert!(revoked["id"].as_str().unwrap().starts_with("msg_"), "{revoked}");
        let gone = events.iter().find(|e| e["type"] == "app.deauthorized").expect("app.deauthorized");
        assert_eq!(gone["data"]["userID"], player.id);
        for d in &got[before..] {
            assert!(!d.body.contains(&token), "a body never holds the token");
        }
        if round == 0 {
            // An integration author's own check, with the published library.
            let said = verify_with_library(&secret, &got[before]).await.expect("standardwebhooks verifies it");
            assert!(said.starts_with("verified "), "{said}");
            // A tampered body or another secret does not verify.
            let mut forged = got[before].clone();
            forged.body = forged.body.replace("\"userID\":", "\"userID\":1");
            assert!(verify(&secret, &forged).is_err());
            assert!(verify_with_library(&secret, &forged).await.is_err());
            let other = client_with_webhook(&author, &receiver.url).await.1;
            assert!(verify_with_library(&other, &got[before]).await.is_err());
        }
    }
    eprintln!("webhook delay after the revocation's answer: {delays:?}");

    // The dashboard's API lists them, delivered, without their bodies.
    let listed = deliveries(&author, &client).await;
    assert_eq!(listed.len(), 10, "{listed:#?}");
    assert!(listed.iter().all(|d| d["state"] == "delivered" && d["lastStatus"] == 200), "{listed:#?}");
    assert!(listed.iter().all(|d| d.get("body").is_none() && d.get("payload").is_none()));
    // Only its author sees them.
    let other = server.register("hook_stranger").await;
    expect_err(other.get(&format!("/clients/{}/webhook-deliveries", client.id)).await, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn revoke_disconnect_replace_replay_reset_delete_and_operator_each_send_their_events_once() {
    let server = server().await;
    let receiver = Receiver::start().await;
    let quiet = Receiver::start().await;
    let author = server.register("busy_author").await;
    let player = server.register("busy_player").await;
    let other_player = server.register("busy_other").await;
    let (client, secret) = client_with_webhook(&author, &receiver.url).await;
    // Another author's client with its own endpoint hears nothing of this one's.
    let stranger = server.register("busy_stranger").await;
    let (elsewhere, _) = client_with_webhook(&stranger, &quiet.url).await;
    let mut expected: Vec<(String, String, String)> = Vec::new();
    let mut expect = |kind: &str, key: &str, reason: &str| expected.push((kind.into(), key.into(), reason.into()));

    // Two keys for one client: revoking the first leaves the app connected.
    let (_, first) = authorize(&server, &player, &client).await;
    let (_, second) = authorize(&server, &player, &client).await;
    let _ = authorize(&server, &player, &elsewhere).await;
    revoke(&player, &first).await;
    expect("key.revoked", &first, "revoked_by_user");
    revoke(&player, &second).await;
    expect("key.revoked", &second, "revoked_by_user");
    expect("app.deauthorized", &second, "");

    // The Client File Flow replaces the player's earlier key for the client.
    let flow = expect_ok(player.request_key(json!({ "clientID": client.id })).await).await;
    let flow_key = flow["id"].as_str().unwrap().to_owned();
    let again = expect_ok(player.request_key(json!({ "clientID": client.id })).await).await;
    let kept_key = again["id"].as_str().unwrap().to_owned();
    expect("key.revoked", &flow_key, "replaced_by_new_key");

    // A replayed code revokes the key issued from it.
    let code = other_player.approve(&client).await;
    let issued = expect_ok(server.exchange(&client, &code).await).await;
    let replayed_key = issued["id"].as_str().unwrap().to_owned();
    assert_ne!(server.exchange(&client, &code).await.status(), StatusCode::OK);
    expect("key.revoked", &replayed_key, "code_replayed");

    // A secret reset.
    let reset = expect_ok(author.post(&format!("/clients/{}/reset-secret", client.id), json!({})).await).await;
    let client = ApiClient { secret: reset["clientSecret"].as_str().unwrap().to_owned(), ..client };
    expect("client.secret_reset", "", "");

    // The operator revokes a player's keys (a process of its own).
    let (_, operator_key) = authorize(&server, &other_player, &client).await;
    let out = run_command(&["user", "busy_other", "--database-url", &server.database_url, "--revoke-keys"]).await;
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    expect("key.revoked", &operator_key, "revoked_by_operator");

    // Deleting the client revokes the keys it still has.
    expect_ok(author.delete(&format!("/clients/{}", client.id)).await).await;
    expect("key.revoked", &kept_key, "client_deleted");

    let got = settle(&receiver, expected.len()).await;
    assert_eq!(got.len(), expected.len());
    let events = verified_events(&receiver, &secret);
    expected.sort();
    assert_eq!(summary(&events), expected);
    assert!(events.iter().all(|e| e["data"]["clientID"] == client.id.as_str()), "only this client's events");
    assert!(quiet.received().is_empty(), "another client hears nothing: {:#?}", quiet.received());
}

#[tokio::test]
async fn events_wait_for_an_endpoint_that_is_down_and_arrive_when_it_is_back() {
    let server = server().await;
    let mut receiver = Receiver::down(crate::support::binary::free_addr());
    let author = server.register("patient_author").await;
    let player = server.register("patient_player").await;
    let (client, secret) = client_with_webhook(&author, &receiver.url).await;
    let (_, key_id) = authorize(&server, &player, &client).await;
    revoke(&player, &key_id).await;

    // The attempts fail and are retried, with back-off.
    let start = Instant::now();
    loop {
        let listed = deliveries(&author, &client).await;
        if listed.len() == 2 && listed.iter().all(|d| d["attempts"].as_i64().unwrap() >= 2) {
            assert!(listed.iter().all(|d| d["state"] == "pending"), "{listed:#?}");
            assert!(listed[0]["lastError"].as_str().unwrap().contains("connect"), "{listed:#?}");
            break;
        }
        assert!(start.elapsed() < ARRIVES_WITHIN, "no retries: {listed:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    receiver.up().await;
    settle(&receiver, 2).await;
    let events = verified_events(&receiver, &secret);
    assert_eq!(summary(&events)[1], ("key.revoked".into(), key_id.clone(), "revoked_by_user".into()));
    let listed = deliveries(&author, &client).await;
    assert!(listed.iter().all(|d| d["state"] == "delivered"), "{listed:#?}");
}

#[tokio::test]
async fn an_event_committed_before_a_kill_9_is_delivered_after_the_restart() {
    let mut receiver = Receiver::down(crate::support::binary::free_addr());
    // A delivery being attempted at the kill stays claimed for its lease
    // (the timeout, 1 s here, and 5 s) before the restarted server takes it.
    let args = ["--webhook-allow-private", "--webhook-retry-base-ms", "100", "--webhook-timeout", "1"];
    let database = db::TestDatabase::create().await;
    let url = database.url.clone();
    let mut first = RunningBinary::start_with(&args, "warn", Some(database)).await;
    let server = first.helpers();
    let author = server.register("crash_author").await;
    let player = server.register("crash_player").await;
    let (client, secret) = client_with_webhook(&author, &receiver.url).await;
    let (_, key_id) = authorize(&server, &player, &client).await;
    revoke(&player, &key_id).await;
    // Killed (SIGKILL) while the endpoint is down: nothing was delivered.
    let _ = first.output().await;
    assert!(receiver.received().is_empty());

    receiver.up().await;
    let second = RunningBinary::start_with(&args, "warn", Some(db::TestDatabase::at(url))).await;
    receiver.wait_for(2, Duration::from_secs(20)).await;
    settle(&receiver, 2).await;
    let events = verified_events(&receiver, &secret);
    assert_eq!(
        summary(&events),
        vec![
            ("app.deauthorized".into(), key_id.clone(), "".into()),
            ("key.revoked".into(), key_id, "revoked_by_user".into())
        ]
    );
    drop(second);
}

#[tokio::test]
async fn two_instances_deliver_each_event_once() {
    let one = server().await;
    let two = one.another_instance_with(allow_loopback).await;
    let receiver = Receiver::start().await;
    let author = one.register("twin_author").await;
    let (client, secret) = client_with_webhook(&author, &receiver.url).await;
    let players = [one.register("twin_one").await, two.login("twin_one").await];
    let mut keys = Vec::new();
    for i in 0..12 {
        let (_, key_id) = authorize(&one, &players[0], &client).await;
        keys.push((i, key_id));
    }
    // Revoked half on each instance, all at once.
    let revocations = keys.iter().map(|(i, key_id)| revoke(&players[i % 2], key_id));
    futures::future::join_all(revocations).await;
    // Twelve revocations and, after the last of them, one disconnection.
    settle(&receiver, 13).await;
    let events = verified_events(&receiver, &secret);
    assert_eq!(events.iter().filter(|e| e["type"] == "key.revoked").count(), 12);
    assert_eq!(events.iter().filter(|e| e["type"] == "app.deauthorized").count(), 1);
}

#[tokio::test]
async fn a_webhook_to_a_private_address_is_refused_without_the_allow_flag() {
    let server = TestServer::start_with(|a| a.webhooks.webhook_retry_base_ms = 100).await;
    let receiver = Receiver::start().await;
    let author = server.register("guarded_author").await;
    for url in [
        receiver.url.clone(),
        format!("http://localhost:{}/hooks/tachi", receiver.addr.port()),
        "http://169.254.169.254/latest/meta-data".into(),
        "http://10.0.0.8/hook".into(),
        "http://[::1]/hook".into(),
    ] {
        let res = author
            .post("/clients/create", json!({ "name": "Sneaky", "webhookUri": url, "permissions": ["submit_score"] }))
            .await;
        let why = expect_err(res, StatusCode::BAD_REQUEST).await;
        assert!(why.contains("webhookUri") && why.contains("public addresses only"), "{url}: {why}");
    }
    let res = author
        .post(
            "/clients/create",
            json!({ "name": "Sneaky", "webhookUri": "ftp://example.com/x", "permissions": ["submit_score"] }),
        )
        .await;
    let why = expect_err(res, StatusCode::BAD_REQUEST).await;
    assert!(why.contains("webhookUri"), "{why}");

    // Set to a private address after the fact (a name that now resolves
    // there, say): the delivery is refused at send time, never sent.
    let client = server.client_of(&author, &["customise_profile"]).await;
    let res = author.patch(&format!("/clients/{}", client.id), json!({ "webhookUri": receiver.url })).await;
    expect_err(res, StatusCode::BAD_REQUEST).await;
    let sql = format!("UPDATE clients SET webhook_uri = '{}' WHERE client_id = '{}'", receiver.url, client.id);
    db::execute(&server.database_url, &sql).await;
    let player = server.register("guarded_player").await;
    let (_, key_id) = authorize(&server, &player, &client).await;
    revoke(&player, &key_id).await;
    let start = Instant::now();
    loop {
        let listed = deliveries(&author, &client).await;
        if listed.len() == 2 && listed.iter().all(|d| d["state"] == "failed") {
            let why = listed[0]["lastError"].as_str().unwrap();
            assert!(why.contains("public addresses only"), "{why}");
            assert_eq!(listed[0]["attempts"], 1, "refused at once, not retried");
            break;
        }
        assert!(start.elapsed() < ARRIVES_WITHIN, "{listed:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(receiver.received().is_empty(), "nothing reached the private address");
}

#[tokio::test]
async fn a_client_without_a_signing_secret_gets_events_once_its_author_rotates_one() {
    let server = server().await;
    let receiver = Receiver::start().await;
    let author = server.register("old_author").await;
    let player = server.register("old_player").await;
    let (client, old_secret) = client_with_webhook(&author, &receiver.url).await;
    // As a client made before webhooks were signed (or imported): no secret.
    db::execute(&server.database_url, &format!("DELETE FROM webhook_secrets WHERE client_id = '{}'", client.id)).await;
    let (_, key_id) = authorize(&server, &player, &client).await;
    revoke(&player, &key_id).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(deliveries(&author, &client).await.is_empty(), "nothing is queued without a secret");

    let res = author.post(&format!("/clients/{}/rotate-webhook-secret", client.id), json!({})).await;
    let rotated = expect_ok(res).await;
    let secret = rotated["webhookSecret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret != old_secret);
    assert!(rotated.get("clientSecret").is_none(), "rotation leaves the client secret alone");
    // Not shown again.
    let shown = expect_ok(author.get(&format!("/clients/{}", client.id)).await).await;
    assert!(shown.get("webhookSecret").is_none(), "{shown}");
    let stranger = server.register("old_stranger").await;
    let res = stranger.post(&format!("/clients/{}/rotate-webhook-secret", client.id), json!({})).await;
    expect_err(res, StatusCode::FORBIDDEN).await;

    let (_, key_id) = authorize(&server, &player, &client).await;
    revoke(&player, &key_id).await;
    settle(&receiver, 2).await;
    verified_events(&receiver, &secret);
    assert!(verify(&old_secret, &receiver.received()[0]).is_err());
}

#[tokio::test]
async fn the_webhook_settings_are_checked_flags_and_config_file_keys() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tachi-auth.toml");
    std::fs::write(&file, "webhook-allow-private = true\nwebhook-timeout = 5\nwebhook-retry-horizon = 3600\n").unwrap();
    let out = run_command(&["config", "check", file.to_str().unwrap()]).await;
    assert!(out.success && out.stdout.contains("3 settings"), "{}{}", out.stdout, out.stderr);
    for bad in
        ["webhook-timeout = 0", "webhook-timeout = 61", "webhook-retry-horizon = 10", "webhook-retry-base-ms = 1"]
    {
        std::fs::write(&file, bad).unwrap();
        let out = run_command(&["config", "check", file.to_str().unwrap()]).await;
        assert!(!out.success, "{bad} is refused");
        assert!(out.stderr.contains(bad.split(' ').next().unwrap()), "{bad}: {}", out.stderr);
    }
}

/// The author's dashboard lists each client's recent deliveries with their
/// state, and rotates the signing secret, shown once.
#[tokio::test]
async fn the_dashboard_shows_each_clients_deliveries_and_rotates_the_secret() {
    use crate::support::browser::Browser;
    let server = server().await;
    let receiver = Receiver::start().await;
    let down = Receiver::down(crate::support::binary::free_addr());
    let author = server.register("shown_author").await;
    let player = server.register("shown_player").await;
    let (client, _) = client_with_webhook(&author, &receiver.url).await;
    let (_, first) = authorize(&server, &player, &client).await;
    let (_, second) = authorize(&server, &player, &client).await;
    revoke(&player, &first).await;
    revoke(&player, &second).await;
    expect_ok(author.post(&format!("/clients/{}/reset-secret", client.id), json!({})).await).await;
    receiver.wait_for(4, ARRIVES_WITHIN).await;
    let unreachable = author
        .create_client(json!({
            "name": "Offline Integration", "redirectUri": REDIRECT, "webhookUri": down.url,
            "permissions": ["submit_score"],
        }))
        .await;
    let (_, third) = authorize(&server, &player, &unreachable).await;
    revoke(&player, &third).await;
    let start = Instant::now();
    while !deliveries(&author, &unreachable).await.iter().all(|d| d["attempts"].as_i64() >= Some(2)) {
        assert!(start.elapsed() < ARRIVES_WITHIN);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let b = Browser::start().await;
    b.goto(&server.url("/login")).await;
    b.fill("#username", "shown_author").await;
    b.fill("#password", crate::support::PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
    b.wait_url("the dashboard", |u| u.path() == "/").await;
    let listed = b.text(&format!("#deliveries-{} + ul", client.id)).await;
    assert_eq!(listed.matches("delivered").count(), 4, "{listed}");
    for kind in ["key.revoked", "app.deauthorized", "client.secret_reset"] {
        assert!(listed.contains(kind), "{kind} in {listed}");
    }
    let pending = b.text(&format!("#deliveries-{} + ul", unreachable.id)).await;
    assert!(pending.contains("pending") && pending.contains("next attempt"), "{pending}");
    b.assert_no_horizontal_scroll().await;
    b.screenshot("dashboard-deliveries").await;
    // The clients' section alone, in a window tall enough to hold it.
    b.resize((1280, 3000)).await;
    let shot = b.find("#clients").await.screenshot().await.unwrap();
    b.resize(crate::support::browser::DESKTOP).await;
    let dir = crate::support::browser::screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("deliveries.png"), shot).unwrap();

    b.click(&format!("form[action='/clients/{}/rotate-webhook-secret'] button", client.id)).await;
    let secret = b.find("#webhook-secret").await.prop("value").await.unwrap().unwrap();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(b.text(".warning").await.contains("only"));
    b.screenshot("webhook-secret").await;
    b.close().await;
}
