//! Accounts (`/api/v1/auth/*`): registration, login, logout, sessions, the
//! login rate limit and banned users.

use reqwest::header::{COOKIE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, SESSION_COOKIE, TestServer, expect_err, expect_ok, set_cookie, within_the_bound};

fn registration(username: &str) -> Value {
    json!({ "username": username, "!password": PASSWORD, "email": format!("{username}@example.org") })
}

#[tokio::test]
async fn register_answers_the_user_document_and_logs_in_with_a_lax_httponly_cookie() {
    let server = TestServer::start().await;
    let browser = server.browser();
    let res = browser.post(server.api("/auth/register")).json(&registration("Zkldi")).send().await.unwrap();
    let (session, attrs) = set_cookie(&res, SESSION_COOKIE).expect("a Tachi_SESSION cookie");
    assert!(!session.is_empty());
    let attrs = attrs.to_ascii_lowercase();
    assert!(attrs.contains("httponly"), "{attrs}");
    assert!(attrs.contains("samesite=lax"), "{attrs}");
    assert!(attrs.contains("path=/"), "{attrs}");

    let user = expect_ok(res).await;
    assert!(user["id"].is_i64(), "{user}");
    assert_eq!(user["username"], "Zkldi");
    assert_eq!(user["usernameLowercase"], "zkldi");
    assert_eq!(user["about"], "");
    assert_eq!(user["status"], Value::Null);
    assert_eq!(user["authLevel"], 1, "the original's UserAuthLevels.USER");
    assert!(user["joinDate"].is_i64());
    let text = user.to_string();
    assert!(!text.contains("password") && !text.contains("example.org"), "no secrets or email: {text}");

    let status = expect_ok(browser.get(server.api("/status")).send().await.unwrap()).await;
    assert_eq!(status["whoami"], user["id"], "registering logs in");
}

#[tokio::test]
async fn a_username_is_taken_whatever_its_case() {
    let server = TestServer::start().await;
    server.register("Alice").await;
    for taken in ["Alice", "alice", "ALICE"] {
        let res =
            server.anonymous().post(server.api("/auth/register")).json(&registration(taken)).send().await.unwrap();
        let d = expect_err(res, StatusCode::CONFLICT).await;
        assert!(d.contains("taken"), "{d}");
    }
}

#[tokio::test]
async fn invalid_usernames_passwords_and_emails_are_refused_with_400() {
    let server = TestServer::start().await;
    let long = "x".repeat(22);
    let cases = [
        (json!({ "username": "ab", "!password": PASSWORD, "email": "a@example.org" }), "username"),
        (json!({ "username": "1abc", "!password": PASSWORD, "email": "a@example.org" }), "username"),
        (json!({ "username": "has space", "!password": PASSWORD, "email": "a@example.org" }), "username"),
        (json!({ "username": long, "!password": PASSWORD, "email": "a@example.org" }), "username"),
        (json!({ "username": "ünïcode", "!password": PASSWORD, "email": "a@example.org" }), "username"),
        (json!({ "username": "valid_name", "!password": "short", "email": "a@example.org" }), "password"),
        (json!({ "username": "valid_name", "!password": "", "email": "a@example.org" }), "password"),
        (json!({ "username": "valid_name", "!password": PASSWORD, "email": "nope" }), "email"),
        (json!({ "username": "valid_name", "!password": PASSWORD, "email": "a@b" }), "email"),
        (json!({ "username": "valid_name", "!password": PASSWORD, "email": "a b@example.org" }), "email"),
    ];
    for (body, field) in cases {
        let res = server.anonymous().post(server.api("/auth/register")).json(&body).send().await.unwrap();
        let d = expect_err(res, StatusCode::BAD_REQUEST).await;
        assert!(d.contains(field), "{body}: {d}");
    }
    // None of them created an account.
    let res =
        server.anonymous().post(server.api("/auth/register")).json(&registration("valid_name")).send().await.unwrap();
    expect_ok(res).await;
}

#[tokio::test]
async fn login_with_the_right_password_opens_a_session() {
    let server = TestServer::start().await;
    let registered = server.register("playerB").await;
    let browser = server.browser();
    let res = server.login_with(&browser, "PLAYERB", PASSWORD).await;
    assert!(set_cookie(&res, SESSION_COOKIE).is_some());
    let body = expect_ok(res).await;
    assert_eq!(body, json!({ "userID": registered.id }), "usernames are case-insensitive at login too");
    let status = expect_ok(browser.get(server.api("/status")).send().await.unwrap()).await;
    assert_eq!(status["whoami"], registered.id);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let server = TestServer::start().await;
    server.register("playerB").await;
    let wrong_password = server.login_with(&server.browser(), "playerB", "not the password").await;
    assert!(set_cookie(&wrong_password, SESSION_COOKIE).is_none());
    let wrong_password = expect_err(wrong_password, StatusCode::UNAUTHORIZED).await;
    let unknown_user = server.login_with(&server.browser(), "nobody_here", "not the password").await;
    let unknown_user = expect_err(unknown_user, StatusCode::UNAUTHORIZED).await;
    assert_eq!(wrong_password, unknown_user, "no user enumeration");
}

#[tokio::test]
async fn logout_ends_the_session_for_good() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let browser = server.browser();
    let res = server.login_with(&browser, "playerB", PASSWORD).await;
    let (session, _) = set_cookie(&res, SESSION_COOKIE).unwrap();
    expect_ok(res).await;
    // Used once, so that the server has it in its session cache.
    assert_eq!(expect_ok(browser.get(server.api("/status")).send().await.unwrap()).await["whoami"], user.id);

    let res = browser.post(server.api("/auth/logout")).send().await.unwrap();
    let (cleared, attrs) = set_cookie(&res, SESSION_COOKIE).expect("logout clears the cookie");
    assert_eq!(cleared, "");
    assert!(attrs.to_ascii_lowercase().contains("max-age=0"), "{attrs}");
    expect_ok(res).await;

    // The old session id is worthless even to someone who kept it.
    let replay = server
        .anonymous()
        .get(server.api("/status"))
        .header(COOKIE, format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_ok(replay).await["whoami"], Value::Null);
    let res = server
        .anonymous()
        .post(server.api("/auth/logout"))
        .header(COOKIE, format!("{SESSION_COOKIE}={session}"))
        .send()
        .await
        .unwrap();
    // No session to end: the original server's 409.
    expect_err(res, StatusCode::CONFLICT).await;
}

#[tokio::test]
async fn every_login_gets_a_fresh_session_id() {
    let server = TestServer::start().await;
    server.register("playerB").await;
    let planted = "planted-by-an-attacker";
    let first = server
        .anonymous()
        .post(server.api("/auth/login"))
        .header(COOKIE, format!("{SESSION_COOKIE}={planted}"))
        .json(&json!({ "username": "playerB", "!password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let (first, _) = set_cookie(&first, SESSION_COOKIE).unwrap();
    let second = server.login_with(&server.browser(), "playerB", PASSWORD).await;
    let (second, _) = set_cookie(&second, SESSION_COOKIE).unwrap();
    assert_ne!(first, planted);
    assert_ne!(first, second);
    // The planted id did not become a session.
    let res = server
        .anonymous()
        .get(server.api("/status"))
        .header(COOKIE, format!("{SESSION_COOKIE}={planted}"))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_ok(res).await["whoami"], Value::Null);
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_with_retry_after() {
    let server = TestServer::start_with(|a| a.login_failures_per_account = 3).await;
    server.register("victim").await;
    server.register("bystander").await;
    for _ in 0..3 {
        expect_err(server.login_with(&server.browser(), "victim", "guess guess").await, StatusCode::UNAUTHORIZED).await;
    }
    let res = server.login_with(&server.browser(), "victim", "guess guess").await;
    let retry: u64 = res.headers()[RETRY_AFTER].to_str().unwrap().parse().expect("Retry-After in seconds");
    assert!(retry > 0);
    expect_err(res, StatusCode::TOO_MANY_REQUESTS).await;
    // Even the right password waits: the guesser cannot learn it was right.
    let res = server.login_with(&server.browser(), "VICTIM", PASSWORD).await;
    assert!(res.headers().contains_key(RETRY_AFTER));
    expect_err(res, StatusCode::TOO_MANY_REQUESTS).await;
    // Other accounts are not affected.
    expect_ok(server.login_with(&server.browser(), "bystander", PASSWORD).await).await;
}

#[tokio::test]
async fn a_banned_user_is_refused_with_403_by_session_key_and_login() {
    let server = TestServer::start().await;
    let user = server.register("cheater").await;
    let key = user.personal_key(&["submit_score"]).await;
    expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
    // Banned by the operator's command: another process than the server,
    // which hears of it as of a revoked key (its session cache and key cache).
    server.ban("cheater").await;

    let delay = within_the_bound("the session refused", || async {
        user.get("/status").await.status() == StatusCode::FORBIDDEN
    })
    .await;
    eprintln!("a ban from another process reached the server's session cache within {delay:?}");
    let d = expect_err(user.get("/status").await, StatusCode::FORBIDDEN).await;
    assert!(d.contains("banned"), "{d}");
    let delay = server.key_answers(&key, StatusCode::FORBIDDEN).await;
    eprintln!("a ban from another process reached the server's bearer cache within {delay:?}");
    let res = server.with_key(Method::GET, "/status", &key).send().await.unwrap();
    assert!(expect_err(res, StatusCode::FORBIDDEN).await.contains("banned"));
    let d = expect_err(server.login_with(&server.browser(), "cheater", PASSWORD).await, StatusCode::FORBIDDEN).await;
    assert!(d.contains("banned"), "{d}");
    // A wrong password still says only "wrong": the ban is no oracle for guessers.
    expect_err(server.login_with(&server.browser(), "cheater", "not the password").await, StatusCode::UNAUTHORIZED)
        .await;

    server.set_user_flags("cheater", None, Some(false)).await;
    server.key_answers(&key, StatusCode::OK).await;
}

#[tokio::test]
async fn simultaneous_registrations_of_one_name_make_one_account() {
    let server = TestServer::start_with(|a| a.logins_in_flight_per_ip = 100).await;
    let attempts = ["Racer", "racer", "RACER", "Racer", "rAcEr"]
        .map(|name| server.anonymous().post(server.api("/auth/register")).json(&registration(name)).send());
    let mut created = 0;
    for res in futures::future::join_all(attempts).await {
        let res = res.unwrap();
        if res.status() == StatusCode::OK {
            created += 1;
            expect_ok(res).await;
        } else {
            expect_err(res, StatusCode::CONFLICT).await;
        }
    }
    assert_eq!(created, 1);
}
