//! Several instances sharing one database, as behind a load balancer: no
//! instance keeps state another one needs. (On SQLite the instances share
//! the file; on PostgreSQL, the database.)

use futures::future::join_all;
use reqwest::header::COOKIE;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{
    ANOTHER_PROCESS_WITHIN, ApiClient, PASSWORD, SESSION_COOKIE, TestServer, User, expect_err, expect_ok, set_cookie,
    within_the_bound,
};

/// Two instances on one database, a player and an author on the first, and the author's client.
struct TwoInstances {
    one: TestServer,
    two: TestServer,
    author: User,
    player: User,
    client: ApiClient,
}

async fn two_instances() -> TwoInstances {
    let one = TestServer::start().await;
    let two = one.another_instance().await;
    let author = one.register("author").await;
    let player = one.register("player").await;
    let client = one.client_of(&author, &["submit_score"]).await;
    TwoInstances { one, two, author, player, client }
}

#[tokio::test]
async fn a_session_created_on_one_instance_is_valid_on_the_other() {
    let one = TestServer::start().await;
    let two = one.another_instance().await;
    let user = one.register("player").await;
    let status = expect_ok(user.http.get(two.api("/status")).send().await.unwrap()).await;
    assert_eq!(status["whoami"], user.id);
}

#[tokio::test]
async fn a_session_ended_on_one_instance_is_refused_by_the_other_within_the_bound() {
    let one = TestServer::start().await;
    let two = one.another_instance().await;
    let user = one.register("player").await;
    let browser = one.browser();
    let res = one.login_with(&browser, "player", PASSWORD).await;
    let (session, _) = set_cookie(&res, SESSION_COOKIE).unwrap();
    expect_ok(res).await;
    let whoami_on = |server: &TestServer| {
        let req = server.anonymous().get(server.api("/status")).header(COOKIE, format!("{SESSION_COOKIE}={session}"));
        async move { expect_ok(req.send().await.unwrap()).await["whoami"].clone() }
    };
    // The other instance has the session in its cache: it just served it.
    assert_eq!(whoami_on(&two).await, user.id);

    expect_ok(browser.post(one.api("/auth/logout")).send().await.unwrap()).await;
    assert!(whoami_on(&one).await.is_null(), "the instance that ended it refuses it at once");

    // The database tells the other instance (NOTIFY on PostgreSQL, a counter on SQLite).
    let delay = within_the_bound("the ended session refused", || async { whoami_on(&two).await.is_null() }).await;
    eprintln!("a logout reached the other instance within {delay:?}");
}

#[tokio::test]
async fn a_code_created_on_one_instance_is_redeemed_on_the_other() {
    let TwoInstances { one, two, player, client, .. } = two_instances().await;
    let code = player.approve(&client).await;
    let doc = expect_ok(two.exchange(&client, &code).await).await;
    assert_eq!(doc["userID"], player.id);
    expect_err(one.exchange(&client, &code).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn a_key_revoked_on_one_instance_is_refused_by_the_other_within_the_bound() {
    let TwoInstances { one, two, player, client, .. } = two_instances().await;
    let key = one.authorize(&player, &client).await;
    expect_ok(two.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;

    let keys = expect_ok(player.get(&format!("/users/{}/api-tokens", player.id)).await).await;
    let key_id = keys[0]["id"].as_str().unwrap().to_owned();
    expect_ok(player.delete(&format!("/users/{}/api-tokens/{key_id}", player.id)).await).await;

    // The other instance had the key in its bearer cache; the database tells
    // it of the revocation (NOTIFY on PostgreSQL, a counter on SQLite).
    let delay = two.key_answers(&key, StatusCode::UNAUTHORIZED).await;
    eprintln!("revocation reached the other instance within {delay:?}");
    // And the instance that revoked it refuses it at once.
    expect_err(one.with_key(Method::GET, "/status", &key).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_secret_reset_on_one_instance_retires_the_old_secret_on_the_other_within_the_bound() {
    let TwoInstances { one: _one, two, author, player, client } = two_instances().await;
    // The other instance has the client in its cache: it just authenticated it.
    let code = player.approve(&client).await;
    expect_ok(two.exchange(&client, &code).await).await;

    let reset = expect_ok(author.post(&format!("/clients/{}/reset-secret", client.id), json!({})).await).await;
    assert_ne!(reset["clientSecret"], client.secret.as_str());

    // Each attempt spends a fresh code; the first refusal ends the wait.
    let start = std::time::Instant::now();
    loop {
        let code = player.approve(&client).await;
        let status = two.exchange(&client, &code).await.status();
        if status == StatusCode::FORBIDDEN {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        assert!(
            start.elapsed() < ANOTHER_PROCESS_WITHIN,
            "the old secret still works after {ANOTHER_PROCESS_WITHIN:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    eprintln!("the secret reset reached the other instance within {:?}", start.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_exchanges_of_one_code_across_both_instances_issue_one_key() {
    let TwoInstances { one, two, player, client, .. } = two_instances().await;
    let code = player.approve(&client).await;

    let attempts = (0..20).map(|i| {
        let server = if i % 2 == 0 { &one } else { &two };
        server.exchange(&client, &code)
    });
    let responses = join_all(attempts).await;
    let statuses: Vec<StatusCode> = responses.iter().map(|r| r.status()).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::OK || *s == StatusCode::NOT_FOUND), "{statuses:?}");
    let mut tokens = Vec::new();
    for res in responses.into_iter().filter(|r| r.status() == StatusCode::OK) {
        tokens.push(expect_ok(res).await["token"].as_str().unwrap().to_owned());
    }
    assert_eq!(tokens.len(), 1, "exactly one exchange issues a key: {statuses:?}");

    // The other attempts were replays of a used code, so (RFC 6749 §4.1.2)
    // the one key issued from it is revoked too: the user holds no key.
    let keys = expect_ok(player.get(&format!("/users/{}/api-tokens", player.id)).await).await;
    assert_eq!(keys, json!([]));
    expect_err(one.with_key(Method::GET, "/status", &tokens[0]).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_client_creation_across_instances_never_exceeds_the_cap() {
    let one = TestServer::start_with(|a| a.client_cap = 3).await;
    let two = TestServer::start_on_database(one.database_url.clone(), |a| a.client_cap = 3).await;
    let author = one.register("author").await;
    let creations = (0..12).map(|i| {
        let server = if i % 2 == 0 { &one } else { &two };
        author
            .http
            .post(server.api("/clients/create"))
            .json(&json!({ "name": format!("Client {i}"), "redirectUri": null, "permissions": ["submit_score"] }))
            .send()
    });
    let results = join_all(creations).await;
    let created = results.iter().filter(|r| r.as_ref().unwrap().status() == StatusCode::OK).count();
    assert_eq!(created, 3);
    for r in results {
        let status = r.unwrap().status();
        assert!(status == StatusCode::OK || status == StatusCode::BAD_REQUEST, "{status}");
    }
    let clients = expect_ok(author.get("/clients").await).await;
    assert_eq!(clients.as_array().unwrap().len(), 3);
}
