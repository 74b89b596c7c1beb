//! The security log: each security-relevant event recorded once, with the
//! right actor, the address and user agent; readable by its user alone
//! (`GET /users/:userID/security-log`, the dashboard), by the operator with
//! `tachi-auth audit`; and never holding a secret.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::binary::run_command;
use crate::support::mail::{Mailbox, SmtpSink};
use crate::support::{PASSWORD, TestServer, User, expect_err, expect_ok};

const NEW_PASSWORD: &str = "security log passphrase";
const RESET_PASSWORD: &str = "reset by the mailed link";

async fn log_of(user: &User) -> Vec<Value> {
    expect_ok(user.get(&format!("/users/{}/security-log", user.id)).await).await.as_array().unwrap().clone()
}

fn count(events: &[Value], event: &str) -> usize {
    events.iter().filter(|e| e["event"] == event).count()
}

fn one<'a>(events: &'a [Value], event: &str) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| e["event"] == event).collect();
    assert_eq!(found.len(), 1, "exactly one '{event}' in {events:#?}");
    found[0]
}

#[tokio::test]
async fn each_event_is_recorded_once_with_its_actor_and_no_secret() {
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let server = TestServer::start_with(|a| {
        a.accounts.smtp_url = Some(sink.url());
        a.accounts.mail_retry_base_ms = 100;
    })
    .await;
    let mut secrets: Vec<String> = vec![PASSWORD.into(), NEW_PASSWORD.into(), RESET_PASSWORD.into()];

    let user = server.register("watched").await;
    let verify_code = mailbox.nth_link("watched@example.org", "/verify-email", 0).await.code_for("/verify-email");
    secrets.push(verify_code.clone());
    let res =
        server.anonymous().post(server.api("/auth/verify-email")).json(&json!({ "code": verify_code })).send().await;
    expect_ok(res.unwrap()).await;

    // A failed and a successful sign-in, the latter with a user agent.
    expect_err(server.login_with(&server.browser(), "watched", "wrong password").await, StatusCode::UNAUTHORIZED).await;
    let res = server
        .browser()
        .post(server.api("/auth/login"))
        .header("user-agent", "SecurityLogTest/1.0")
        .json(&json!({ "username": "watched", "!password": PASSWORD }))
        .send()
        .await
        .unwrap();
    expect_ok(res).await;

    // A personal key, created and revoked; a client, its secret reset, an app authorised, the client deleted.
    let key = user.personal_key(&["customise_profile"]).await;
    secrets.push(key.clone());
    let key_id = user.keys().await[0]["id"].as_str().unwrap().to_owned();
    expect_ok(user.delete(&format!("/users/{}/api-tokens/{key_id}", user.id)).await).await;
    let client = server.client_of(&user, &["submit_score"]).await;
    secrets.push(client.secret.clone());
    let reset = expect_ok(user.post(&format!("/clients/{}/reset-secret", client.id), json!({})).await).await;
    let new_secret = reset["clientSecret"].as_str().unwrap().to_owned();
    secrets.push(new_secret.clone());
    let client = crate::support::ApiClient { secret: new_secret, ..client };
    // The client's key by the Client File Flow's route, revoked: the app is disconnected.
    let flow = expect_ok(user.request_key(json!({ "clientID": client.id })).await).await;
    secrets.push(flow["token"].as_str().unwrap().to_owned());
    let flow_id = flow["id"].as_str().unwrap().to_owned();
    expect_ok(user.delete(&format!("/users/{}/api-tokens/{flow_id}", user.id)).await).await;
    // Authorised through consent; the key it led to goes with the client.
    let code = user.approve(&client).await;
    secrets.push(code.clone());
    let issued = expect_ok(server.exchange(&client, &code).await).await;
    secrets.push(issued["token"].as_str().unwrap().to_owned());
    let client_key_id = issued["id"].as_str().unwrap().to_owned();
    // A second authorisation whose code is presented twice: its key is revoked.
    let replayed = user.approve(&client).await;
    secrets.push(replayed.clone());
    let second = expect_ok(server.exchange(&client, &replayed).await).await;
    secrets.push(second["token"].as_str().unwrap().to_owned());
    let replayed_key_id = second["id"].as_str().unwrap().to_owned();
    assert!(!server.exchange(&client, &replayed).await.status().is_success());
    expect_ok(user.delete(&format!("/clients/{}", client.id)).await).await;

    // The password: changed, then forgotten and reset through the mail.
    let res = user
        .post(
            &format!("/users/{}/change-password", user.id),
            json!({ "!oldPassword": PASSWORD, "!password": NEW_PASSWORD }),
        )
        .await;
    expect_ok(res).await;
    let res = server
        .anonymous()
        .post(server.api("/auth/forgot-password"))
        .json(&json!({ "email": "watched@example.org" }))
        .send()
        .await;
    assert_eq!(res.unwrap().status(), StatusCode::ACCEPTED);
    let reset_code = mailbox.nth_link("watched@example.org", "/reset-password", 0).await.code_for("/reset-password");
    secrets.push(reset_code.clone());
    let res = server
        .anonymous()
        .post(server.api("/auth/reset-password"))
        .json(&json!({ "code": reset_code, "!password": RESET_PASSWORD }))
        .send()
        .await
        .unwrap();
    expect_ok(res).await;

    let user = server.login_as("watched", RESET_PASSWORD).await;
    let res = user.http.post(server.api("/auth/logout")).header("user-agent", "SecurityLogTest/2.0").send().await;
    expect_ok(res.unwrap()).await;
    let user = server.login_as("watched", RESET_PASSWORD).await;

    let events = log_of(&user).await;
    let ids: Vec<i64> = events.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first: {ids:?}");
    for (event, actor) in [
        ("e-mail verified", "user"),
        ("sign-in failed", "someone"),
        ("client created", "user"),
        ("client secret reset", "user"),
        ("client deleted", "user"),
        ("password changed", "user"),
        ("password reset requested", "someone"),
        ("password reset", "user"),
        ("sign-out", "user"),
    ] {
        assert_eq!(one(&events, event)["actor"], actor, "{event}");
    }
    assert_eq!(count(&events, "sign-in"), 3, "three logins");
    assert_eq!(count(&events, "API key created"), 2, "the personal key and the File Flow's");
    let revoked: Vec<&Value> = events.iter().filter(|e| e["event"] == "API key revoked").collect();
    assert_eq!(revoked.len(), 3, "{revoked:#?}");
    let authorised: Vec<&Value> = events.iter().filter(|e| e["event"] == "app authorised").collect();
    assert_eq!(authorised.len(), 2, "two approvals");
    assert!(authorised.iter().all(|e| e["actor"] == "user" && e["client_id"] == json!(client.id)));
    let by_replay = revoked.iter().find(|e| e["actor"] == "replayed code").expect("revoked for a replayed code");
    assert_eq!(by_replay["detail"], json!(replayed_key_id));
    let by_user = revoked.iter().find(|e| e["actor"] == "user").expect("revoked by the user");
    assert_eq!(by_user["detail"], key_id.as_str());
    let by_deletion =
        revoked.iter().find(|e| e["actor"] == "client deletion").expect("revoked by the client's deletion");
    assert_eq!((&by_deletion["detail"], &by_deletion["client_id"]), (&json!(client_key_id), &json!(client.id)));
    let gone = one(&events, "app disconnected");
    assert_eq!(
        (&gone["detail"], &gone["client_id"], &gone["actor"]),
        (&json!(flow_id), &json!(client.id), &json!("user"))
    );
    let out = one(&events, "sign-out");
    assert_eq!(out["user_agent"], "SecurityLogTest/2.0");
    assert_eq!(out["ip"], "127.0.0.1");

    // The operator's actions are the operator's.
    let out = run_command(&["user", "watched", "--database-url", &server.database_url, "--revoke-keys"]).await;
    assert!(out.success, "{}", out.stderr);
    let events = log_of(&user).await;
    assert_eq!(one(&events, "API keys revoked")["actor"], "operator");

    // Only the user, by session.
    server.register("nosy").await;
    let other = server.login("nosy").await;
    expect_err(other.get(&format!("/users/{}/security-log", user.id)).await, StatusCode::FORBIDDEN).await;
    let key = user.personal_key(&["customise_profile"]).await;
    let res = server.with_key(Method::GET, &format!("/users/{}/security-log", user.id), &key).send().await.unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;

    // The dashboard shows it; the operator's audit prints it as JSON lines.
    let page = user.http.get(server.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Security log") && page.contains("password reset requested"));
    let audit =
        run_command(&["audit", "--database-url", &server.database_url, "--user", "watched", "--since", "1h"]).await;
    assert!(audit.success, "{}", audit.stderr);
    let lines: Vec<Value> = audit.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() >= 15 && lines.iter().all(|l| l["user_id"] == user.id), "{}", audit.stdout);
    let everyone = run_command(&["audit", "--database-url", &server.database_url]).await;
    assert!(everyone.stdout.lines().count() > lines.len(), "without --user, every user's events");

    // No secret anywhere in it.
    let all = format!("{}{}", serde_json::to_string(&log_of(&user).await).unwrap(), everyone.stdout);
    for secret in &secrets {
        assert!(!all.contains(secret.as_str()), "a secret in the security log: {secret}");
    }
}

/// The real binary's own output, at debug level, holds none of the
/// passwords, codes or keys of a register → key → forgot → reset → change.
#[tokio::test]
async fn no_secret_appears_in_the_server_output() {
    use crate::support::binary::RunningBinary;
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let mut server = RunningBinary::start(&["--smtp-url", &sink.url(), "--mail-retry-base-ms", "100"], "debug").await;
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let body = json!({ "username": "quiet", "!password": PASSWORD, "email": "quiet@example.org" });
    expect_ok(http.post(server.api("/auth/register")).json(&body).send().await.unwrap()).await;
    let me = expect_ok(http.get(server.api("/status")).send().await.unwrap()).await["whoami"].clone();
    let key = expect_ok(
        http.post(server.api(&format!("/users/{me}/api-tokens/create")))
            .json(&json!({ "permissions": ["customise_profile"] }))
            .send()
            .await
            .unwrap(),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let verify = mailbox.nth_link("quiet@example.org", "/verify-email", 0).await.code_for("/verify-email");
    let res = http.post(server.api("/auth/forgot-password")).json(&json!({ "email": "quiet@example.org" })).send();
    assert_eq!(res.await.unwrap().status(), StatusCode::ACCEPTED);
    let code = mailbox.nth_link("quiet@example.org", "/reset-password", 0).await.code_for("/reset-password");
    let res = http.post(server.api("/auth/reset-password")).json(&json!({ "code": code, "!password": RESET_PASSWORD }));
    expect_ok(res.send().await.unwrap()).await;
    let output = server.output().await;
    assert!(output.contains("mail sent"), "the log says mail went out: {output}");
    for secret in [PASSWORD, RESET_PASSWORD, &key, &verify, &code] {
        assert!(!output.contains(secret), "a secret in the server's output: {secret}");
    }
}
