//! The seeds' OAuth2 routes beyond the happy path (see seeds_flow.rs):
//! create-code's refusals, and the token exchange's original status codes,
//! code expiry and binding, form bodies, brute force and concurrency.

use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::json;

use crate::support::{TestServer, expect_err, expect_ok};

#[tokio::test]
async fn create_code_without_a_pending_request_says_so() {
    let server = TestServer::start().await;
    let user = server.register("playerB").await;
    let d = expect_err(user.post("/oauth/create-code", json!({})).await, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("no pending authorization request"), "{d}");
    let res = user.http.post(user.api("/oauth/create-code")).send().await.unwrap();
    let d = expect_err(res, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("no pending authorization request"), "without a body too: {d}");
    let d = expect_err(
        user.post("/oauth/create-code", json!({ "clientID": "CIsomething" })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(d.contains("no pending authorization request"), "{d}");
}

#[tokio::test]
async fn create_code_needs_a_session() {
    let server = TestServer::start().await;
    let res = server.anonymous().post(server.api("/oauth/create-code")).json(&json!({})).send().await.unwrap();
    let d = expect_err(res, StatusCode::UNAUTHORIZED).await;
    assert!(d.contains("logged in"), "{d}");
}

#[tokio::test]
async fn create_code_with_two_pending_requests_needs_the_client_named() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let user = server.register("playerB").await;
    let first = server.client_of(&author, &["submit_score"]).await;
    let second = server.client_of(&author, &["customise_profile"]).await;
    assert_eq!(user.open_consent(&first).await.status(), StatusCode::OK);
    assert_eq!(user.open_consent(&second).await.status(), StatusCode::OK);

    let d = expect_err(user.post("/oauth/create-code", json!({})).await, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("clientID"), "{d}");

    let code = expect_ok(user.post("/oauth/create-code", json!({ "clientID": second.id })).await).await;
    assert_eq!(code["userID"], user.id);
    assert!(code["createdOn"].as_i64().unwrap() > 1_600_000_000_000, "unix milliseconds");
    let doc = expect_ok(server.exchange(&second, code["code"].as_str().unwrap()).await).await;
    assert_eq!(doc["permissions"], json!({ "customise_profile": true }));

    // The approved request is consumed; the other one is now the only one pending.
    let code = expect_ok(user.post("/oauth/create-code", json!({})).await).await;
    expect_ok(server.exchange(&first, code["code"].as_str().unwrap()).await).await;
}

#[tokio::test]
async fn the_exchange_answers_the_original_status_codes() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let user = server.register("playerB").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let code = user.approve(&client).await;
    let body = server.exchange_body(&client, &code);
    let with = |field: &str, value: serde_json::Value| {
        let mut b = body.clone();
        b[field] = value;
        b
    };
    let cases = [
        (with("client_id", json!("CIunknown")), StatusCode::NOT_FOUND, "client_id"),
        (with("client_secret", json!("CSwrong")), StatusCode::FORBIDDEN, "client_secret"),
        (with("redirect_uri", json!("https://integration.example/other")), StatusCode::BAD_REQUEST, "redirect_uri"),
        (
            with("redirect_uri", json!(format!("{}?x=1", client.redirect_uri().as_str().unwrap()))),
            StatusCode::BAD_REQUEST,
            "redirect_uri",
        ),
        (with("code", json!("no-such-code")), StatusCode::NOT_FOUND, "code"),
        (with("grant_type", json!("client_credentials")), StatusCode::BAD_REQUEST, "grant_type"),
        (with("grant_type", json!("refresh_token")), StatusCode::BAD_REQUEST, "grant_type"),
    ];
    for (body, status, needle) in cases {
        let d = expect_err(server.exchange_with(body.clone()).await, status).await;
        assert!(d.contains(needle), "{body}: {d}");
    }
    for missing in ["client_id", "client_secret", "grant_type", "redirect_uri", "code"] {
        let mut b = body.clone();
        b.as_object_mut().unwrap().remove(missing);
        let res = server.exchange_with(b).await;
        assert!(res.status().is_client_error(), "{missing}: {}", res.status());
        let d = expect_err(res, StatusCode::BAD_REQUEST).await;
        assert!(d.contains(missing), "{missing}: {d}");
    }
    // None of the refusals used the code up.
    expect_ok(server.exchange(&client, &code).await).await;
}

#[tokio::test]
async fn an_expired_code_is_refused_like_an_unknown_one() {
    let server = TestServer::start_with(|a| a.code_lifetime = 60).await;
    let author = server.register("authorA").await;
    let user = server.register("playerB").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let (in_time, late) = (user.approve(&client).await, user.approve(&client).await);
    let unknown = expect_err(server.exchange(&client, "no-such-code").await, StatusCode::NOT_FOUND).await;
    server.clock.advance(Duration::from_secs(59));
    expect_ok(server.exchange(&client, &in_time).await).await;
    server.clock.advance(Duration::from_secs(2));
    let expired = expect_err(server.exchange(&client, &late).await, StatusCode::NOT_FOUND).await;
    assert_eq!(expired, unknown);
}

#[tokio::test]
async fn a_code_only_works_for_the_client_the_user_approved() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let attacker = server.register("attacker").await;
    let user = server.register("playerB").await;
    let approved = server.client_of(&author, &["submit_score"]).await;
    let thief = server.client_of(&attacker, &["submit_score", "delete_score"]).await;
    let code = user.approve(&approved).await;

    let stolen = expect_err(server.exchange(&thief, &code).await, StatusCode::NOT_FOUND).await;
    let unknown = expect_err(server.exchange(&thief, "no-such-code").await, StatusCode::NOT_FOUND).await;
    assert_eq!(stolen, unknown, "another client's code looks unknown");

    let doc = expect_ok(server.exchange(&approved, &code).await).await;
    assert_eq!(doc["fromOAuth2Client"], approved.id.as_str());
    assert_eq!(doc["permissions"], json!({ "submit_score": true }));
}

#[tokio::test]
async fn the_exchange_accepts_a_form_encoded_body() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let user = server.register("playerB").await;
    let client = server.client_of(&author, &["customise_profile"]).await;
    let code = user.approve(&client).await;
    let redirect = client.redirect_uri();
    let form = [
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
        ("grant_type", "authorization_code"),
        ("redirect_uri", redirect.as_str().unwrap()),
        ("code", code.as_str()),
    ];
    let res = server.anonymous().post(server.api("/oauth/token")).form(&form).send().await.unwrap();
    let doc = expect_ok(res).await;
    assert_eq!(doc["userID"], user.id);
    assert_eq!(doc["fromOAuth2Client"], client.id.as_str());
    assert!(doc["token"].as_str().is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn guessing_a_client_secret_is_rate_limited() {
    let server = TestServer::start_with(|a| a.client_auth_failures = 3).await;
    let author = server.register("authorA").await;
    let user = server.register("playerB").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let code = user.approve(&client).await;
    let mut guess = server.exchange_body(&client, &code);
    guess["client_secret"] = json!("CSguess");
    for _ in 0..3 {
        expect_err(server.exchange_with(guess.clone()).await, StatusCode::FORBIDDEN).await;
    }
    let res = server.exchange_with(guess.clone()).await;
    let retry: u64 = res.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(retry > 0);
    expect_err(res, StatusCode::TOO_MANY_REQUESTS).await;
    // The right secret is never refused: client ids are public, so otherwise
    // anyone could lock the integration out (a 160-bit secret is not guessed).
    expect_ok(server.exchange(&client, &code).await).await;
}

#[tokio::test]
async fn of_twenty_simultaneous_exchanges_of_one_code_exactly_one_succeeds() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let user = server.register("playerB").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let code = user.approve(&client).await;

    let answers = join_all((0..20).map(|_| server.exchange(&client, &code))).await;
    let mut issued = 0;
    for res in answers {
        if res.status() == StatusCode::OK {
            issued += 1;
            expect_ok(res).await;
        } else {
            expect_err(res, StatusCode::NOT_FOUND).await;
        }
    }
    assert_eq!(issued, 1);
    // A replayed code revokes what it issued (RFC 6749 §4.1.2): no key survives the race.
    assert!(user.keys().await.is_empty());
}

/// Consent screens and approvals that arrive together share one statement or
/// transaction (`group_commit`): each request is still recorded for its own
/// session and client, each approval takes that request, and one request
/// still approves one code.
#[tokio::test]
async fn simultaneous_consents_and_approvals_each_keep_their_own_request_and_a_request_approves_once() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let scores = server.client_of(&author, &["submit_score"]).await;
    let profile = server.client_of(&author, &["customise_profile"]).await;
    let mut players = Vec::new();
    for i in 0..8 {
        players.push(server.register(&format!("player{i}")).await);
    }
    // Every player opens both consent screens at once: the pending requests
    // are recorded together too.
    let shown = join_all(players.iter().flat_map(|p| [p.open_consent(&scores), p.open_consent(&profile)])).await;
    for res in shown {
        assert_eq!(res.status(), StatusCode::OK);
    }

    // Every player approves both of their requests at once, the first one twice.
    let (scores, profile) = ((&scores, "submit_score"), (&profile, "customise_profile"));
    let attempts = players.iter().flat_map(|p| [(p, scores), (p, scores), (p, profile)]);
    let answers = join_all(attempts.map(|(player, client)| async move {
        (player, client, player.post("/oauth/create-code", json!({ "clientID": client.0.id })).await)
    }))
    .await;

    let mut codes = Vec::new();
    for (player, client, res) in answers {
        if res.status() == StatusCode::OK {
            codes.push((player, client, expect_ok(res).await["code"].as_str().unwrap().to_owned()));
        } else {
            let d = expect_err(res, StatusCode::BAD_REQUEST).await;
            assert!(d.contains("no pending authorization request"), "{d}");
        }
    }
    assert_eq!(codes.len(), 2 * players.len(), "one code per request, not per attempt");
    for (player, (client, permission), code) in codes {
        let key = expect_ok(server.exchange(client, &code).await).await["token"].as_str().unwrap().to_owned();
        let status = expect_ok(server.with_key(reqwest::Method::GET, "/status", &key).send().await.unwrap()).await;
        assert_eq!(status["whoami"], player.id, "{}'s code is {}'s", player.username, status["whoami"]);
        assert_eq!(status["permissions"], json!([permission]), "the code carries its own request's permissions");
    }
}
