//! Keeping an account: changing the password, resetting it through a real
//! mail server (aiosmtpd, see `support::mail`), and the mail queue's
//! behaviour when that server is down.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::mail::{Mailbox, SmtpSink};
use crate::support::{PASSWORD, TestServer, User, expect_err, expect_ok};

const RESET: &str = "/reset-password";
const NEW_PASSWORD: &str = "a brand new passphrase";

async fn change(user: &User, body: Value) -> reqwest::Response {
    user.post(&format!("/users/{}/change-password", user.id), body).await
}

/// A server sending mail to `sink`, retrying quickly.
async fn server_with_mail(sink_url: String, configure: impl FnOnce(&mut tachi_auth::config::ServeArgs)) -> TestServer {
    TestServer::start_with(|a| {
        a.accounts.smtp_url = Some(sink_url);
        a.accounts.mail_retry_base_ms = 100;
        configure(a);
    })
    .await
}

async fn forgot(server: &TestServer, email: &str) -> reqwest::Response {
    server.anonymous().post(server.api("/auth/forgot-password")).json(&json!({ "email": email })).send().await.unwrap()
}

async fn reset(server: &TestServer, code: &str, password: &str) -> reqwest::Response {
    server
        .anonymous()
        .post(server.api("/auth/reset-password"))
        .json(&json!({ "code": code, "!password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_but_not_this_one_nor_the_keys() {
    let server = TestServer::start().await;
    let here = server.register("changer").await;
    let elsewhere = server.login("changer").await;
    let key = here.personal_key(&["customise_profile"]).await;
    assert_eq!(elsewhere.whoami().await, json!(here.id));

    let res = change(&here, json!({ "!oldPassword": PASSWORD, "!password": NEW_PASSWORD })).await;
    expect_ok(res).await;

    assert_eq!(here.whoami().await, json!(here.id), "the session that changed it stays");
    assert_eq!(elsewhere.whoami().await, Value::Null, "every other session ends");
    let by_key = expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
    assert_eq!(by_key["whoami"], json!(here.id), "API keys keep working");

    expect_err(server.login_with(&server.browser(), "changer", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    expect_ok(server.login_with(&server.browser(), "changer", NEW_PASSWORD).await).await;
}

#[tokio::test]
async fn a_wrong_old_password_or_a_weak_new_one_changes_nothing() {
    let server = TestServer::start().await;
    let user = server.register("careful").await;
    let other = server.register("someone").await;

    let res = change(&user, json!({ "!oldPassword": "not my password", "!password": NEW_PASSWORD })).await;
    let d = expect_err(res, StatusCode::UNAUTHORIZED).await;
    assert_eq!(d, "Old Password doesn't match what we have in our records.");

    let res = change(&user, json!({ "!oldPassword": PASSWORD, "!password": "short" })).await;
    let d = expect_err(res, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("password"), "{d}");

    let res = change(&user, json!({ "!password": NEW_PASSWORD })).await;
    let d = expect_err(res, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("!oldPassword"), "{d}");

    // Only the user, by session: not another user, not an API key, not a guest.
    let res = other
        .post(
            &format!("/users/{}/change-password", user.id),
            json!({ "!oldPassword": PASSWORD, "!password": NEW_PASSWORD }),
        )
        .await;
    expect_err(res, StatusCode::FORBIDDEN).await;
    let key = user.personal_key(&["customise_profile"]).await;
    let res = server
        .with_key(Method::POST, &format!("/users/{}/change-password", user.id), &key)
        .json(&json!({ "!oldPassword": PASSWORD, "!password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;
    let res = server
        .anonymous()
        .post(server.api(&format!("/users/{}/change-password", user.id)))
        .json(&json!({ "!oldPassword": PASSWORD, "!password": NEW_PASSWORD }))
        .send()
        .await
        .unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;

    expect_ok(server.login_with(&server.browser(), "careful", PASSWORD).await).await;
    assert_eq!(user.whoami().await, json!(user.id));
}

#[tokio::test]
async fn a_reset_mail_carries_a_link_that_sets_a_new_password_once() {
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let server = server_with_mail(sink.url(), |a| a.site_name = "Bokutachi".into()).await;
    let user = server.register("forgetful").await;
    let key = user.personal_key(&["customise_profile"]).await;

    let res = forgot(&server, "Forgetful@Example.org").await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["success"], true);
    assert_eq!(v["description"], "A code has been sent to your email.");

    let mail = mailbox.nth_link("forgetful@example.org", RESET, 0).await;
    assert!(mail.subject.contains("Bokutachi"), "{mail:?}");
    assert!(mail.text.contains("Bokutachi") && mail.html.contains("Bokutachi"), "{mail:?}");
    let code = mail.code_for(RESET);
    assert!(code.len() >= 32, "at least 128 bits: {code}");
    assert_eq!(mail.link_for(RESET), format!("{}/reset-password?code={code}", server.base));
    assert!(mail.html.contains(&format!("/reset-password?code={code}")), "{}", mail.html);
    assert!(mail.text.matches(&code).count() >= 2, "the code is written out too: {}", mail.text);

    let d = expect_err(reset(&server, &code, "short").await, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("password"), "{d}");
    expect_ok(reset(&server, &code, NEW_PASSWORD).await).await;
    let d = expect_err(reset(&server, &code, "another new passphrase").await, StatusCode::NOT_FOUND).await;
    assert_eq!(d, "Invalid Reset Code.", "a code works once");

    assert_eq!(user.whoami().await, Value::Null, "a reset ends every session");
    let by_key = expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
    assert_eq!(by_key["whoami"], json!(user.id));
    expect_err(server.login_with(&server.browser(), "forgetful", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    expect_ok(server.login_with(&server.browser(), "forgetful", NEW_PASSWORD).await).await;
}

#[tokio::test]
async fn a_code_expires_and_a_newer_request_replaces_it() {
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let server = server_with_mail(sink.url(), |a| a.accounts.reset_code_lifetime = 60).await;
    server.register("slowpoke").await;

    assert_eq!(forgot(&server, "slowpoke@example.org").await.status(), StatusCode::ACCEPTED);
    let first = mailbox.nth_link("slowpoke@example.org", RESET, 0).await.code_for(RESET);
    assert_eq!(forgot(&server, "slowpoke@example.org").await.status(), StatusCode::ACCEPTED);
    let second = mailbox.nth_link("slowpoke@example.org", RESET, 1).await.code_for(RESET);
    assert_ne!(first, second);
    let d = expect_err(reset(&server, &first, NEW_PASSWORD).await, StatusCode::NOT_FOUND).await;
    assert_eq!(d, "Invalid Reset Code.", "the newer request made the older code worthless");

    server.clock.advance(Duration::from_secs(61));
    let d = expect_err(reset(&server, &second, NEW_PASSWORD).await, StatusCode::NOT_FOUND).await;
    assert_eq!(d, "Invalid Reset Code.", "the code expired");

    // Codes no server could have made are refused the same way, never a 500.
    for bad in ["", "x", "\u{0}", &"a".repeat(5000), "../../etc", "code with spaces"] {
        let d = expect_err(reset(&server, bad, NEW_PASSWORD).await, StatusCode::NOT_FOUND).await;
        assert_eq!(d, "Invalid Reset Code.");
    }
    expect_ok(server.login_with(&server.browser(), "slowpoke", PASSWORD).await).await;
}

#[tokio::test]
async fn an_unknown_address_gets_the_same_answer_in_the_same_time_and_no_mail() {
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    // Each request from its own address, so the per-address limit stays out of the timings.
    let server = server_with_mail(sink.url(), |a| a.client_ip_header = Some("x-forwarded-for".parse().unwrap())).await;
    const ROUNDS: usize = 8;
    for i in 0..ROUNDS {
        server.register(&format!("known{i}")).await;
    }
    let timed = |email: String, ip: String| {
        let server = &server;
        async move {
            let start = Instant::now();
            let res = server
                .anonymous()
                .post(server.api("/auth/forgot-password"))
                .header("x-forwarded-for", ip)
                .json(&json!({ "email": email }))
                .send()
                .await
                .unwrap();
            let took = start.elapsed();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap(), took)
        }
    };
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..ROUNDS {
        let (s1, b1, t1) = timed(format!("known{i}@example.org"), format!("10.0.1.{i}")).await;
        let (s2, b2, t2) = timed(format!("nobody{i}@example.org"), format!("10.0.2.{i}")).await;
        assert_eq!((s1, &b1), (s2, &b2), "the same answer for a known and an unknown address");
        assert_eq!(s1, StatusCode::ACCEPTED);
        known.push(t1);
        unknown.push(t2);
    }
    known.sort();
    unknown.sort();
    let (k, u) = (known[ROUNDS / 2], unknown[ROUNDS / 2]);
    println!(
        "forgot-password median over {ROUNDS}: known address {k:?}, unknown address {u:?}, difference {:?}",
        k.abs_diff(u)
    );
    for i in 0..ROUNDS {
        mailbox.nth_link(&format!("known{i}@example.org"), RESET, 0).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let resets: Vec<_> = mailbox.all().into_iter().filter(|m| m.text.contains("/reset-password?code=")).collect();
    assert_eq!(resets.len(), ROUNDS, "one mail per known address, none for unknown ones");
    assert!(mailbox.all().iter().all(|m| m.to[0].starts_with("known")), "{:?}", mailbox.all());
}

#[tokio::test]
async fn without_a_mail_server_resets_answer_501() {
    let server = TestServer::start().await;
    server.register("nomail").await;
    let d = expect_err(forgot(&server, "nomail@example.org").await, StatusCode::NOT_IMPLEMENTED).await;
    assert_eq!(d, "This server does not support password resets.");
}

#[tokio::test]
async fn a_mail_server_that_is_down_delays_the_mail_but_not_the_answer() {
    let mailbox = Mailbox::new();
    let port = SmtpSink::free_port();
    let server = server_with_mail(format!("smtp://127.0.0.1:{port}"), |_| {}).await;
    server.register("patient").await;

    let start = Instant::now();
    let res = forgot(&server, "patient@example.org").await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    assert!(start.elapsed() < Duration::from_secs(2), "answered at once: {:?}", start.elapsed());
    // A few attempts fail meanwhile.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(mailbox.all().is_empty());

    let _sink = SmtpSink::start_on(port, &mailbox).await;
    let mail = mailbox.nth_link("patient@example.org", RESET, 0).await;
    let code = mail.code_for(RESET);
    expect_ok(reset(&server, &code, NEW_PASSWORD).await).await;
}
