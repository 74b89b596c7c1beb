//! Abuse resistance: one anonymous attacker must not out-race the limits,
//! turn them against an integration or an account, exhaust the server's
//! memory or connections, or pass for the operator. Each test makes the
//! attack for real (parallel requests, many source addresses across
//! 127.0.0.0/8, raw sockets, the real binary's memory) and fails without
//! its defence.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::oauth_standard::{
    authorize_url, form_csrf, form_field, location, person, pkce_pair, query_param, token_post,
};
use crate::support::binary::RunningBinary;
use crate::support::{
    ALL_PERMISSIONS, PASSWORD, REDIRECT, SESSION_COOKIE, TestServer, expect_err, expect_ok, set_cookie,
};

/// A client whose requests come from `127.0.0.<n>`: another attacker (or
/// the real user) as the server sees them.
fn from_address(n: u8) -> Client {
    Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, n)))
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn login_from(http: &Client, base: &str, username: &str, password: impl AsRef<str>) -> Response {
    let password = password.as_ref();
    http.post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": username, "!password": password }))
        .send()
        .await
        .unwrap()
}

fn count(statuses: &[StatusCode], status: StatusCode) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

// ------------------------------------------------------------ login limits

/// Finding 1: the limit is checked before the (slow) password check, so every
/// guess of a burst used to pass the check while the first ones were still
/// being verified. Now an attempt is counted before it is verified.
#[tokio::test]
async fn a_burst_of_guesses_gets_no_more_verifications_than_the_limit() {
    let server = TestServer::start_with(|a| a.logins_in_flight_per_ip = 1000).await;
    server.register("victim").await;
    let http = server.anonymous();
    let burst = (0..200).map(|i| login_from(&http, &server.base, "victim", format!("guess number {i}")));
    let statuses: Vec<StatusCode> = futures::future::join_all(burst).await.iter().map(Response::status).collect();
    let verified = count(&statuses, StatusCode::UNAUTHORIZED);
    // Refused before any check: over the limit, or the hashing queue is full.
    let refused = count(&statuses, StatusCode::TOO_MANY_REQUESTS) + count(&statuses, StatusCode::SERVICE_UNAVAILABLE);
    println!("burst of 200 wrong passwords: {verified} verified, {refused} refused");
    assert_eq!(verified + refused, 200, "{statuses:?}");
    assert!(verified <= 10, "only the account's 10 failures may be verified, {verified} were");
}

/// Finding 1, for client secrets: a burst of failed client authentications
/// from one address gets no more than the address's 20 failures answered.
/// Each names another (unknown) client, so each waits on the database
/// between the check and the count, where the old code let them all pass.
#[tokio::test]
async fn a_burst_of_secret_guesses_gets_no_more_checks_than_the_limit() {
    let server = TestServer::start().await;
    let burst = (0..200).map(|i| {
        server
            .anonymous()
            .post(server.url("/oauth/token"))
            .basic_auth(format!("CI{i:040}"), Some("CSwrong"))
            .form(&[("grant_type", "authorization_code"), ("code", "x")])
            .send()
    });
    let statuses: Vec<StatusCode> =
        futures::future::join_all(burst).await.into_iter().map(|r| r.unwrap().status()).collect();
    let checked = count(&statuses, StatusCode::UNAUTHORIZED);
    println!("burst of 200 failed client authentications: {checked} answered invalid_client");
    assert_eq!(checked + count(&statuses, StatusCode::TOO_MANY_REQUESTS), 200, "{statuses:?}");
    assert!(checked <= 20, "{checked} failed authentications were answered, not refused");
}

/// Finding 6: usernames are public; failures from many addresses used to
/// lock the owner out everywhere. Now the hard block is per (account,
/// address), and past the account's limit each address gets one try.
#[tokio::test]
async fn many_addresses_cannot_lock_the_owner_out() {
    let server = TestServer::start().await;
    server.register("victim").await;
    for n in 10..30 {
        let res = login_from(&from_address(n), &server.base, "victim", "wrong password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "address {n}'s first guess is checked");
    }
    // The account has had 20 failures: an address that has failed once gets no second try...
    let res = login_from(&from_address(10), &server.base, "victim", "another guess").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...but the owner, from an address that has not failed, logs in.
    let owner = from_address(99);
    expect_ok(login_from(&owner, &server.base, "victim", PASSWORD).await).await;
}

/// Finding 9: successful logins queued ahead of everyone (1 000 logins to the
/// attacker's own account held a real user's login up for 15.8 s, and made
/// 2 269 sessions). Now an address has a few logins in flight at most, and
/// a user a bounded number of sessions.
#[tokio::test]
async fn a_flood_of_logins_does_not_hold_up_a_real_user() {
    let server = TestServer::start_with(|a| a.sessions_per_user = 5).await;
    server.register("flooder").await;
    server.register("realuser").await;
    let flooder = from_address(50);
    let flood = tokio::spawn({
        let base = server.base.clone();
        async move {
            let burst = (0..200).map(|_| login_from(&flooder, &base, "flooder", PASSWORD));
            futures::future::join_all(burst).await.iter().map(Response::status).collect::<Vec<_>>()
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let start = std::time::Instant::now();
    expect_ok(login_from(&from_address(51), &server.base, "realuser", PASSWORD).await).await;
    let waited = start.elapsed();
    let statuses = flood.await.unwrap();
    let admitted = count(&statuses, StatusCode::OK);
    let turned_away = count(&statuses, StatusCode::TOO_MANY_REQUESTS);
    println!(
        "real user's login during a flood of 200: {waited:?}; flood admitted {admitted}, turned away {turned_away}"
    );
    // What the real user queues behind is what was admitted: a few, not 200.
    assert!(admitted <= 20, "{admitted} of the flood's logins were admitted");
    assert_eq!(admitted + turned_away, 200, "{statuses:?}");
}

/// Finding 9: a user's sessions are capped; a new login ends the oldest.
#[tokio::test]
async fn a_new_login_past_the_cap_ends_the_oldest_session() {
    let server = TestServer::start_with(|a| a.sessions_per_user = 3).await;
    server.register("player").await;
    let first = server.login("player").await;
    for _ in 0..3 {
        server.login("player").await;
    }
    let res = first.get("/status").await;
    assert_eq!(expect_ok(res).await["whoami"], Value::Null, "the oldest session has ended");
}

// ------------------------------------------------------------ client secrets

/// Finding 3: client ids are public, and 20 wrong secrets from 20 addresses
/// used to make the integration's own exchange answer 429 for 15 minutes.
/// A right secret is never refused now, not even from an address over its limit.
#[tokio::test]
async fn wrong_secrets_from_anyone_never_lock_an_integration_out() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (player, _) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let guess = |http: Client, secret: String| {
        let (url, id) = (server.url("/oauth/token"), client.id.clone());
        async move {
            http.post(url)
                .basic_auth(id, Some(secret))
                .form(&[("grant_type", "authorization_code"), ("code", "x")])
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    for n in 10..40 {
        guess(from_address(n), "CSwrong".into()).await;
    }
    for _ in 0..30 {
        guess(from_address(10), "CSwrong".into()).await;
    }
    assert_eq!(
        guess(from_address(10), "CSwrong".into()).await,
        StatusCode::TOO_MANY_REQUESTS,
        "the guesser is limited"
    );
    // The integration, from its own address, and even from the guesser's.
    let code = player.approve(&client).await;
    expect_ok(server.exchange(&client, &code).await).await;
    let code = player.approve(&client).await;
    let res = from_address(10)
        .post(server.api("/oauth/token"))
        .json(&server.exchange_body(&client, &code))
        .send()
        .await
        .unwrap();
    expect_ok(res).await;
}

// ------------------------------------------------------------ memory

/// Finding 2: the limit tables were keyed by what the attacker sent (60 KB
/// client ids, long names) and never pruned: RSS went from 34 to 491 MB.
/// Now they hold fixed-size hashes, capped; the real binary's memory is read.
#[tokio::test]
async fn limit_tables_do_not_grow_with_what_attackers_send() {
    let server = RunningBinary::start(&[], "warn").await;
    let before = server.rss_mb();
    let long_id = format!("CI{}", "a".repeat(60_000));
    let long_name = "n".repeat(60_000);
    let attacks = (0..100u8).map(|n| {
        let (http, token, login) = (from_address(100 + n), server.url("/oauth/token"), server.api("/auth/login"));
        let (long_id, long_name) = (long_id.clone(), long_name.clone());
        async move {
            for i in 0..10 {
                let id = format!("{long_id}{n}x{i}");
                let _ = http
                    .post(&token)
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", "x"),
                        ("client_id", &id),
                        ("client_secret", "CSx"),
                    ])
                    .send()
                    .await;
                let name = format!("{long_name}{n}x{i}");
                let _ = http.post(&login).json(&json!({ "username": name, "!password": "guess guess" })).send().await;
            }
        }
    });
    futures::future::join_all(attacks).await;
    let after = server.rss_mb();
    println!("RSS before {before:.1} MB, after 2 000 requests with 60 KB names from 100 addresses: {after:.1} MB");
    // 2 000 x 60 KB would be 117 MB if the names were kept.
    assert!(after - before < 40.0, "RSS grew from {before:.1} to {after:.1} MB");
}

// ------------------------------------------------------------ connections

async fn raw(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.addr).await.unwrap()
}

/// Reads until the server closes the connection; `None` if it is still open after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Option<String> {
    let mut got = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut got)).await;
    match read {
        Ok(_) => Some(String::from_utf8_lossy(&got).into_owned()),
        Err(_) => None,
    }
}

fn quick_timeouts(a: &mut tachi_auth::config::ServeArgs) {
    a.connections.header_timeout = 1;
}

/// Finding 4: a client that never finishes its headers held its connection forever.
#[tokio::test]
async fn unfinished_headers_are_cut_off() {
    let server = TestServer::start_with(quick_timeouts).await;
    let mut stream = raw(&server).await;
    stream.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ").await.unwrap();
    assert!(closed_within(&mut stream, Duration::from_secs(5)).await.is_some(), "still open after 5 s");
}

/// Finding 4: an idle keep-alive connection (or one that never sends) is closed.
#[tokio::test]
async fn idle_connections_are_closed() {
    let server = TestServer::start_with(quick_timeouts).await;
    let mut silent = raw(&server).await;
    let mut kept_alive = raw(&server).await;
    kept_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut answer = [0; 64];
    let n = kept_alive.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..n]).starts_with("HTTP/1.1 200"));
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await.is_some(), "a silent connection stays open");
    assert!(closed_within(&mut kept_alive, Duration::from_secs(5)).await.is_some(), "an idle one stays open");
}

/// Finding 4: 1 500 connections holding 400 KB headers took 609 MB; a head
/// is now at most 16 KB, refused with 431 beyond that.
#[tokio::test]
async fn oversized_headers_are_refused() {
    let server = TestServer::start().await;
    let mut stream = raw(&server).await;
    let head = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "a".repeat(100_000));
    let _ = stream.write_all(head.as_bytes()).await;
    let answer = closed_within(&mut stream, Duration::from_secs(5)).await.expect("closed");
    assert!(answer.starts_with("HTTP/1.1 431"), "{}", answer.lines().next().unwrap_or_default());
    // An ordinary request with a session cookie and a bearer key is well inside the bound.
    let res = server.anonymous().get(server.api("/status")).header("X-Filler", "b".repeat(4000)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

/// Finding 4: 1 100 idle connections stopped the server from accepting
/// anything. Past the cap, newcomers are closed at once; the idle ones time
/// out, and the server serves again.
#[tokio::test]
async fn connections_past_the_cap_are_shed_and_the_server_recovers() {
    let server = TestServer::start_with(|a| {
        quick_timeouts(a);
        a.connections.max_connections = 20;
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(raw(&server).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut shed = raw(&server).await;
    let _ = shed.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let answer = closed_within(&mut shed, Duration::from_secs(1)).await.expect("a newcomer past the cap is closed");
    assert_eq!(answer, "", "and not served");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let res = server.anonymous().get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the idle connections timed out and freed their slots");
}

/// Finding 4: one half-sent request kept SIGTERM from stopping the server.
/// The process also raises its open-file limit, so the cap binds first.
#[tokio::test]
async fn a_half_sent_request_does_not_keep_the_server_from_stopping() {
    let mut server = RunningBinary::start(&["--shutdown-grace", "1"], "info").await;
    let limits = server.proc_line("limits", "Max open files");
    let fields: Vec<&str> = limits.split_whitespace().collect();
    assert_eq!(fields[3], fields[4], "the soft limit is raised to the hard one: {limits}");
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /api/v1/status HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let took = server.terminate(Duration::from_secs(15)).await;
    println!("stopped {took:?} after SIGTERM with a half-sent request open");
    assert!(took.is_some(), "the server did not stop within 15 s of SIGTERM");
}

// ------------------------------------------------------------ consent

/// Finding 5: each consent view replaced the session's pending request for
/// its client, so a client could show one scope and get a code for another
/// opened meanwhile in a second window. The form now names what it showed.
#[tokio::test]
async fn approval_is_for_the_request_the_page_showed() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &ALL_PERMISSIONS).await;
    let (verifier, challenge) = pkce_pair();
    let narrow = authorize_url(
        &server,
        &client.id,
        &[
            ("scope", "customise_profile"),
            ("state", "shown"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = http.get(&narrow).send().await.unwrap().text().await.unwrap();
    let (csrf, shown) = (form_csrf(&page), form_field(&page, "request"));
    // The client opens a broader request in another window before the user clicks.
    let (_, other_challenge) = pkce_pair();
    let broad = authorize_url(
        &server,
        &client.id,
        &[("state", "swapped"), ("code_challenge", &other_challenge), ("code_challenge_method", "S256")],
    );
    assert_eq!(http.get(&broad).send().await.unwrap().status(), StatusCode::OK);
    let res = http
        .post(server.url("/oauth/consent"))
        .form(&[("csrf", csrf.as_str()), ("client_id", &client.id), ("request", &shown), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    let back = location(&res);
    assert_eq!(query_param(&back, "state").as_deref(), Some("shown"));
    let code = query_param(&back, "code").unwrap();
    let res = token_post(
        &server,
        &client,
        &[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier)],
    )
    .await;
    let token: Value = res.json().await.unwrap();
    assert_eq!(token["scope"], "customise_profile", "the code carries what the page showed: {token}");
    // The broader request is still pending, on its own: the seeds' create-code
    // (Tachi's web client posts no body) approves it, and only it.
    let code = expect_ok(create_code(&server, &http, json!({})).await).await;
    let res =
        token_post(&server, &client, &[("grant_type", "authorization_code"), ("code", code["code"].as_str().unwrap())])
            .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "its PKCE verifier is the other window's");
    expect_err(create_code(&server, &http, json!({})).await, StatusCode::BAD_REQUEST).await;
}

/// The seeds' create-code from the session `http` holds (the one that saw the consent pages).
async fn create_code(server: &TestServer, http: &Client, body: Value) -> Response {
    http.post(server.api("/oauth/create-code")).json(&body).send().await.unwrap()
}

/// Finding 5: several pending requests: create-code without a request id is refused.
#[tokio::test]
async fn create_code_refuses_to_guess_between_pending_requests() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &ALL_PERMISSIONS).await;
    for state in ["one", "two"] {
        let url = authorize_url(&server, &client.id, &[("state", state)]);
        assert_eq!(http.get(&url).send().await.unwrap().status(), StatusCode::OK);
    }
    let named = json!({ "clientID": client.id });
    let description = expect_err(create_code(&server, &http, named).await, StatusCode::BAD_REQUEST).await;
    assert!(description.contains("several authorization requests"), "{description}");
    assert!(description.contains("must come from the consent page"), "{description}");
    // Showing the same request again is not a second one.
    let url = authorize_url(&server, &client.id, &[("state", "one")]);
    let again = http.get(&url).send().await.unwrap().text().await.unwrap();
    let first = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert_eq!(form_field(&again, "request"), form_field(&first, "request"));
}

// ------------------------------------------------------------ passing for the operator

const BUILTIN: &str = r#"[{"clientID": "CXscorehook", "name": "Tachi Score Hook", "permissions": ["submit_score"],
  "apiKeyFormat": "%%TACHI_KEY%%", "apiKeyFilename": "hook.json"}]"#;

/// Finding 7: the site's name could be registered, and a client could copy a
/// built-in client's name (with invisible characters or look-alikes too).
#[tokio::test]
async fn a_user_cannot_pass_for_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let builtin = dir.path().join("builtin.json");
    std::fs::write(&builtin, BUILTIN).unwrap();
    let server = TestServer::start_with(|a| a.builtin_clients = Some(builtin)).await;
    for name in ["Tachi", "tachi", "TACHI", "admin", "Administrator", "support", "r00t"] {
        let res = server.try_register(name).await;
        let description = expect_err(res, StatusCode::CONFLICT).await;
        assert!(description.contains("reserved"), "{name}: {description}");
    }
    let author = server.register("author").await;
    for name in [
        "Tachi Score Hook",
        "tachi score-hook",
        "Tachi\u{200B} Score Hook",
        "Tаchi Score Hook",
        "Tachi",
        "Score\u{202E}kooH",
    ] {
        let res = author
            .post("/clients/create", json!({ "name": name, "redirectUri": REDIRECT, "permissions": ["submit_score"] }))
            .await;
        expect_err(res, StatusCode::BAD_REQUEST).await;
    }
    let own = author
        .create_client(json!({ "name": "Score Uploader", "redirectUri": REDIRECT, "permissions": ["submit_score"] }))
        .await;
    let rename = author.patch(&format!("/clients/{}", own.id), json!({ "name": "TACHI SCORE HOOK" })).await;
    expect_err(rename, StatusCode::BAD_REQUEST).await;
    // The pages say whose client it is.
    let (_, http) = person(&server, "player").await;
    let page = http.get(server.url(&format!("/oauth/request-auth?clientID={}", own.id))).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("Made by user <strong>author</strong>, not by Tachi"), "{page}");
    let page = http.get(server.url("/client-file-flow/CXscorehook")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Provided by Tachi itself"), "{page}");
    let page =
        http.get(server.url(&format!("/client-file-flow/{}", own.id))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Made by user <strong>author</strong>"), "{page}");
}

/// Finding 12: look-alike usernames are one name.
#[tokio::test]
async fn look_alike_usernames_are_one_name() {
    let server = TestServer::start().await;
    server.register("paypal").await;
    server.register("bob").await;
    for name in ["paypaI", "PAYPAL", "b0b", "B0B"] {
        let res = server.try_register(name).await;
        expect_err(res, StatusCode::CONFLICT).await;
    }
}

/// Finding 8: the key file's name must be a data format, never a script,
/// shortcut or device.
#[tokio::test]
async fn key_files_are_data_formats_only() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let draft = |filename: &str| json!({ "name": "Hook", "permissions": ["submit_score"], "apiKeyFormat": "%%TACHI_KEY%%", "apiKeyFilename": filename });
    for bad in [
        "key.vb",
        "key.wsc",
        "key.sct",
        "key.library-ms",
        "key.jnlp",
        "key.mobileconfig",
        "key.xml",
        "CON",
        "nul.json",
        "aux",
    ] {
        expect_err(author.post("/clients/create", draft(bad)).await, StatusCode::BAD_REQUEST).await;
    }
    expect_ok(author.post("/clients/create", draft("hook.toml")).await).await;
}

// ------------------------------------------------------------ caps and powers

/// Finding 10: one session made 72 032 personal keys in 20 s.
#[tokio::test]
async fn personal_keys_are_capped() {
    let server = TestServer::start_with(|a| a.personal_key_cap = 3).await;
    let user = server.register("player").await;
    for _ in 0..3 {
        user.personal_key(&["submit_score"]).await;
    }
    let description =
        expect_err(user.request_key(json!({ "permissions": ["submit_score"] })).await, StatusCode::CONFLICT).await;
    assert!(description.contains("maximum of 3"), "{description}");
}

/// Finding 11: an admin has no power over other users' keys and clients
/// through the API (the operator's commands act on accounts).
#[tokio::test]
async fn admins_cannot_act_on_other_users_keys_or_clients() {
    let server = TestServer::start().await;
    let victim = server.register("victim").await;
    let client = server.client_of(&victim, &["submit_score"]).await;
    server.register("staffer").await;
    server.set_user_flags("staffer", Some(true), None).await;
    let admin = server.login("staffer").await;
    expect_err(admin.get(&format!("/users/{}/api-tokens", victim.id)).await, StatusCode::FORBIDDEN).await;
    let path = format!("/users/{}/api-tokens/create", victim.id);
    let create = admin.post(&path, json!({ "permissions": ["submit_score"] }));
    expect_err(create.await, StatusCode::FORBIDDEN).await;
    expect_err(
        admin.patch(&format!("/clients/{}", client.id), json!({ "name": "Taken over" })).await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

/// Finding 13: with an https public URL, an `Origin` on our host but over
/// plain http (a page a network attacker served) is another site.
#[tokio::test]
async fn an_http_origin_is_another_site_when_the_public_url_is_https() {
    let server = TestServer::start_with(|a| a.public_url = Some("https://auth.example".parse().unwrap())).await;
    let res = server.try_register("player").await;
    let (session, _) = set_cookie(&res, SESSION_COOKIE).expect("a session cookie");
    let create_code = |origin: &str| {
        server
            .anonymous()
            .post(server.api("/oauth/create-code"))
            .header("Cookie", format!("{SESSION_COOKIE}={session}"))
            .header("Origin", origin)
            .header("Host", "auth.example")
            .json(&json!({}))
            .send()
    };
    let description = expect_err(create_code("http://auth.example").await.unwrap(), StatusCode::FORBIDDEN).await;
    assert!(description.contains("cross-site"), "{description}");
    // The same origin over https is ours: the request gets as far as finding nothing pending.
    expect_err(create_code("https://auth.example").await.unwrap(), StatusCode::BAD_REQUEST).await;
}
