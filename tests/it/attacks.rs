//! Attacks on the authorization server (RFC 9700, RFC 6749 §10) and on the
//! pages around it, each tried for real: every test fails if its defence is
//! removed. No timing assertions: timing defences are checked in the code.

use reqwest::header::{
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, REFERRER_POLICY, RETRY_AFTER, SET_COOKIE, X_FRAME_OPTIONS,
};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::oauth_standard::{
    answer_consent, authorize_url, browser, expect_oauth_error, form_csrf, introspect, key_works, location,
    open_consent, page_login, person, pkce_pair, query_param, standard_code, token_post,
};
use crate::support::binary::RunningBinary;
use crate::support::{PASSWORD, REDIRECT, TestServer, expect_ok};

const EVIL: &str = "https://evil.example";

fn grant<'a>(code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 3] {
    [("grant_type", "authorization_code"), ("code", code), ("code_verifier", verifier)]
}

/// The value a response sets for `name`, if it sets one.
fn set_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let (pair, _) = c.split_once(';').unwrap_or((c, ""));
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| v.to_owned())
    })
}

fn no_redirect(res: &Response) {
    assert!(res.headers().get(LOCATION).is_none(), "must not redirect, got {:?}", res.headers().get(LOCATION));
}

// ---------------------------------------------------------------- codes

/// RFC 9700 §4.5 (code injection): a code is bound to the client the user
/// approved; another client's credentials cannot redeem it, and trying does
/// not burn it for its rightful client.
#[tokio::test]
async fn a_code_cannot_be_redeemed_by_another_client() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let mallory = server.register("mallory").await;
    let (_, http) = person(&server, "player").await;
    let honest = server.client_of(&author, &["submit_score"]).await;
    let thief = server.client_of(&mallory, &["submit_score", "delete_score"]).await;
    let (code, verifier) = standard_code(&server, &http, &honest).await;

    expect_oauth_error(
        token_post(&server, &thief, &grant(&code, &verifier)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    // The seeds' endpoint binds codes the same way.
    let seeds = server.exchange(&thief, &code).await;
    assert_eq!(seeds.status(), StatusCode::NOT_FOUND);

    let res = token_post(&server, &honest, &grant(&code, &verifier)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["scope"], "submit_score");
}

/// RFC 6749 §4.1.2 / RFC 9700 §4.5: a code presented twice may have been
/// stolen: the second attempt fails and the key issued from it is revoked.
#[tokio::test]
async fn a_replayed_code_revokes_the_key_issued_from_it() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let (code, verifier) = standard_code(&server, &http, &client).await;
    let res = token_post(&server, &client, &grant(&code, &verifier)).await;
    let key = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    assert!(key_works(&server, &key).await);

    expect_oauth_error(
        token_post(&server, &client, &grant(&code, &verifier)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert!(!key_works(&server, &key).await, "the key issued from a replayed code is revoked");
    assert_eq!(introspect(&server, &client, &key).await, json!({ "active": false }));
}

/// RFC 7636 / RFC 9700 §4.5.3.1: a stolen PKCE-bound code is useless without
/// the verifier, and a failed check burns it.
#[tokio::test]
async fn a_stolen_code_is_useless_without_its_pkce_verifier() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;

    let (code, _) = standard_code(&server, &http, &client).await;
    let res = token_post(&server, &client, &[("grant_type", "authorization_code"), ("code", &code)]).await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;

    let (code, verifier) = standard_code(&server, &http, &client).await;
    let (attackers, _) = pkce_pair();
    expect_oauth_error(
        token_post(&server, &client, &grant(&code, &attackers)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    let burnt = token_post(&server, &client, &grant(&code, &verifier)).await;
    expect_oauth_error(burnt, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// RFC 9700 §4.8.2 (PKCE downgrade): a code_verifier for a code issued
/// without a code_challenge is refused.
#[tokio::test]
async fn pkce_downgrade_is_refused() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let csrf = open_consent(&http, &authorize_url(&server, &client.id, &[("state", "s")])).await;
    let code =
        query_param(&location(&answer_consent(&server, &http, &csrf, &client.id, "approve").await), "code").unwrap();
    let (verifier, _) = pkce_pair();
    expect_oauth_error(
        token_post(&server, &client, &grant(&code, &verifier)).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

// ---------------------------------------------------------------- redirects

/// RFC 9700 §4.1 and §4.11.2: only the registered redirect URI, compared
/// exactly; anything else gets our own error page, never a redirect — even
/// for errors that would otherwise go back to the client.
#[tokio::test]
async fn authorize_never_redirects_to_an_unregistered_uri() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let evil_redirects = [
        format!("{EVIL}/tachi-callback"),
        format!("{REDIRECT}/"),
        format!("{REDIRECT}/../../evil"),
        format!("{REDIRECT}?next={EVIL}"),
        format!("{REDIRECT}#frag"),
        "https://integration.example.evil.example/tachi-callback".into(),
        "https://integration.example@evil.example/tachi-callback".into(),
        "HTTPS://INTEGRATION.EXAMPLE/tachi-callback".into(),
        "http://integration.example/tachi-callback".into(),
    ];
    for bad in &evil_redirects {
        for extra in [
            vec![],
            vec![("scope", "not_a_permission")],
            vec![("code_challenge_method", "plain"), ("code_challenge", "x")],
        ] {
            let mut params = vec![("redirect_uri", bad.as_str()), ("state", "s")];
            params.extend(extra);
            for who in [&http, &server.anonymous()] {
                let res = who.get(authorize_url(&server, &client.id, &params)).send().await.unwrap();
                assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
                no_redirect(&res);
            }
        }
        let res = http
            .get(format!(
                "{}?clientID={}&redirect_uri={}",
                server.url("/oauth/request-auth"),
                client.id,
                urlencode(bad)
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "seeds' page, {bad}");
        no_redirect(&res);
    }
    // An unknown client: nothing to trust, so no redirect either.
    let res = http
        .get(authorize_url(&server, "CIunknown", &[("redirect_uri", EVIL), ("scope", "bogus")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    no_redirect(&res);

    // At the token endpoint a different redirect_uri fails too.
    let (code, verifier) = standard_code(&server, &http, &client).await;
    let mut params = grant(&code, &verifier).to_vec();
    let other = format!("{EVIL}/tachi-callback");
    params.push(("redirect_uri", &other));
    expect_oauth_error(token_post(&server, &client, &params).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The login page sends the user back only to a local path.
#[tokio::test]
async fn login_is_not_an_open_redirect() {
    let server = TestServer::start().await;
    server.register("player").await;
    for next in [EVIL, "//evil.example", "/\\evil.example", "https:evil.example"] {
        let http = browser();
        let page = http.get(format!("{}?next={}", server.url("/login"), urlencode(next))).send().await.unwrap();
        let csrf = form_csrf(&page.text().await.unwrap());
        let res = http
            .post(server.url("/login"))
            .form(&[("csrf", csrf.as_str()), ("next", next), ("username", "player"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(res.headers()[LOCATION], "/", "{next}");
    }
}

// ---------------------------------------------------------------- CSRF

/// A page on another site cannot approve a consent on the user's behalf.
#[tokio::test]
async fn the_consent_form_refuses_cross_site_posts() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let (_, attacker) = person(&server, "mallory").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let url = authorize_url(&server, &client.id, &[("state", "s")]);
    let csrf = open_consent(&http, &url).await;
    let attackers_csrf = open_consent(&attacker, &url).await;

    let consent = |csrf: String, headers: Vec<(&'static str, &'static str)>| {
        let mut req = http.post(server.url("/oauth/consent")).form(&[
            ("csrf", csrf.as_str()),
            ("client_id", &client.id),
            ("decision", "approve"),
        ]);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        req.send()
    };
    for (token, headers) in [
        (String::new(), vec![]),
        ("0".repeat(64), vec![]),
        (attackers_csrf.clone(), vec![]),
        (csrf.clone(), vec![("origin", EVIL)]),
        (csrf.clone(), vec![("origin", "null")]),
        (csrf.clone(), vec![("sec-fetch-site", "cross-site")]),
        (csrf.clone(), vec![("sec-fetch-site", "same-site"), ("origin", "https://sub.integration.example")]),
    ] {
        let res = consent(token, headers.clone()).await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{headers:?}");
        no_redirect(&res);
    }
    // The same form from our own page works: the refusals above were the defence.
    let res = consent(csrf, vec![("sec-fetch-site", "same-origin")]).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(query_param(&location(&res), "code").is_some());
}

/// The seeds' create-code is cookie-authenticated: refused from another site.
#[tokio::test]
async fn create_code_refuses_cross_site_cookie_requests() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    assert_eq!(player.open_consent(&client).await.status(), StatusCode::OK);
    for (k, v) in [("origin", EVIL), ("sec-fetch-site", "cross-site")] {
        let res = player
            .http
            .post(player.api("/oauth/create-code"))
            .header(k, v)
            .json(&json!({ "clientID": client.id }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{k}");
    }
    expect_ok(player.post("/oauth/create-code", json!({ "clientID": client.id })).await).await;
}

/// Login CSRF: another site cannot log the user into the attacker's account.
#[tokio::test]
async fn login_csrf_is_refused() {
    let server = TestServer::start().await;
    server.register("mallory").await;
    let form = |csrf: &str| {
        [("csrf", csrf.to_owned()), ("next", "/".into()), ("username", "mallory".into()), ("password", PASSWORD.into())]
    };

    // A cross-site form post carries no pre-login cookie and cannot know the token.
    let res = browser().post(server.url("/login")).form(&form("guessed")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(set_cookie(&res, "Tachi_SESSION"), None);

    // Even with the victim's pre-login cookie and token, a cross-site post is refused.
    let http = browser();
    let csrf = form_csrf(&http.get(server.url("/login")).send().await.unwrap().text().await.unwrap());
    for (k, v) in [("origin", EVIL), ("sec-fetch-site", "cross-site")] {
        let res = http.post(server.url("/login")).header(k, v).form(&form(&csrf)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{k}");
        assert_eq!(set_cookie(&res, "Tachi_SESSION"), None);
    }
    let res = http.post(server.url("/login")).form(&form(&csrf)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the same post from our own page logs in");
    assert!(set_cookie(&res, "Tachi_SESSION").is_some());
}

// ---------------------------------------------------------------- pages and headers

/// RFC 9700 §4.16: the consent page cannot be framed.
#[tokio::test]
async fn the_consent_page_cannot_be_framed() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    for url in [
        authorize_url(&server, &client.id, &[]),
        format!("{}?clientID={}", server.url("/oauth/request-auth"), client.id),
    ] {
        let res = http.get(&url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[X_FRAME_OPTIONS], "DENY");
        let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
}

/// Every answer, not only the pages, carries the headers that stop sniffing,
/// framing and caching: JSON successes and errors, unknown routes, refused
/// bodies. (They are added in one middleware, `http::finish`.)
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let server = TestServer::start().await;
    let http = server.browser();
    let answers = [
        http.get(server.url("/api/v1/status")).send().await.unwrap(),
        http.get(server.url("/api/v1/no-such-route")).send().await.unwrap(),
        http.get(server.url("/no-such-page")).send().await.unwrap(),
        http.post(server.url("/api/v1/auth/login")).body(vec![b'x'; 1 << 20]).send().await.unwrap(),
        http.get(server.url("/healthz")).send().await.unwrap(),
    ];
    let mut json_answers = 0;
    for res in answers {
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{}", res.url());
        assert_eq!(h[X_FRAME_OPTIONS], "DENY", "{}", res.url());
        assert_eq!(h[REFERRER_POLICY], "no-referrer", "{}", res.url());
        assert_eq!(h["cache-control"], "no-store", "{}", res.url());
        let csp = h[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{}", res.url());
        if h[CONTENT_TYPE].to_str().unwrap().starts_with("application/json") {
            // A JSON answer may load nothing at all.
            assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{}", res.url());
            json_answers += 1;
        } else {
            assert_eq!(h["cross-origin-opener-policy"], "same-origin", "{}", res.url());
        }
    }
    assert_eq!(json_answers, 3, "the status, the unknown API route and the refused body answer in JSON");
}

/// RFC 9700 §4.2 and §4.12: codes do not leak through Referer (no-referrer on
/// the consent page and on the redirect carrying the code), and the redirect
/// after a POST is a 303, so the browser never re-posts the form to the client.
#[tokio::test]
async fn codes_do_not_leak_through_referer_or_307() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let http = browser();
    let res = page_login(&server, &http, "player").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the password post is answered with 303, not 307");

    let page = http.get(authorize_url(&server, &client.id, &[])).send().await.unwrap();
    assert_eq!(page.headers()[REFERRER_POLICY], "no-referrer");
    let csrf = form_csrf(&page.text().await.unwrap());
    let res = answer_consent(&server, &http, &csrf, &client.id, "approve").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    assert!(query_param(&location(&res), "code").is_some());
}

/// Session fixation: logging in always issues a new session id; a planted
/// one is never upgraded.
#[tokio::test]
async fn login_issues_a_new_session_id() {
    let server = TestServer::start().await;
    let victim = server.register("victim").await;
    let mallory = server.register("mallory").await;
    let anon = server.anonymous();

    // The attacker's own, valid session, and an invented value.
    let res = anon
        .post(server.api("/auth/login"))
        .json(&json!({ "username": "mallory", "!password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let mallorys = set_cookie(&res, "Tachi_SESSION").expect("a session");
    for planted in [mallorys.clone(), "0123456789abcdef0123456789abcdef01234567".to_owned()] {
        let page =
            anon.get(server.url("/login")).header(COOKIE, format!("Tachi_SESSION={planted}")).send().await.unwrap();
        let prelogin = set_cookie(&page, "Tachi_PRELOGIN").expect("a pre-login cookie");
        let csrf = form_csrf(&page.text().await.unwrap());
        let res = anon
            .post(server.url("/login"))
            .header(COOKIE, format!("Tachi_SESSION={planted}; Tachi_PRELOGIN={prelogin}"))
            .form(&[("csrf", csrf.as_str()), ("next", "/"), ("username", "victim"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let new = set_cookie(&res, "Tachi_SESSION").expect("login sets a session");
        assert_ne!(new, planted);
        assert_eq!(whoami(&server, &new).await, json!(victim.id));
        // The planted value is not the victim's session.
        assert_ne!(whoami(&server, &planted).await, json!(victim.id));
    }
    assert_eq!(whoami(&server, &mallorys).await, json!(mallory.id));
}

async fn whoami(server: &TestServer, session: &str) -> Value {
    let res = server
        .anonymous()
        .get(server.api("/status"))
        .header(COOKIE, format!("Tachi_SESSION={session}"))
        .send()
        .await
        .unwrap();
    expect_ok(res).await["whoami"].clone()
}

// ---------------------------------------------------------------- brute force

async fn api_login(server: &TestServer, username: &str, password: &str) -> Response {
    server
        .anonymous()
        .post(server.api("/auth/login"))
        .json(&json!({ "username": username, "!password": password }))
        .send()
        .await
        .unwrap()
}

fn assert_limited(res: &Response) {
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let secs: u64 = res.headers()[RETRY_AFTER].to_str().unwrap().parse().unwrap();
    assert!(secs >= 1);
}

#[tokio::test]
async fn password_guessing_is_limited_per_account() {
    let server = TestServer::start_with(|a| {
        a.login_failures_per_account = 3;
        a.login_failures_per_ip = 1000;
    })
    .await;
    server.register("victim").await;
    server.register("bystander").await;
    for i in 0..3 {
        assert_eq!(api_login(&server, "victim", &format!("guess {i}")).await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_limited(&api_login(&server, "victim", "guess 4").await);
    // Locked means locked: the right password is not tested either (else guessing goes on).
    assert_limited(&api_login(&server, "victim", PASSWORD).await);
    let page = browser();
    let csrf = form_csrf(&page.get(server.url("/login")).send().await.unwrap().text().await.unwrap());
    let res = page
        .post(server.url("/login"))
        .form(&[("csrf", csrf.as_str()), ("username", "victim"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_limited(&res);
    // Other accounts are not locked out by it.
    assert_eq!(api_login(&server, "bystander", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn password_guessing_is_limited_per_address() {
    let server = TestServer::start_with(|a| {
        a.login_failures_per_account = 1000;
        a.login_failures_per_ip = 3;
    })
    .await;
    server.register("someone").await;
    for name in ["alice", "bob", "carol"] {
        assert_eq!(api_login(&server, name, "123456").await.status(), StatusCode::UNAUTHORIZED);
    }
    assert_limited(&api_login(&server, "dave", "123456").await);
    assert_limited(&api_login(&server, "someone", PASSWORD).await);
}

/// RFC 6749 §10.10 / RFC 9700 §2.5: client secrets cannot be guessed at the
/// token endpoint (per client, and per address across clients).
#[tokio::test]
async fn client_secret_guessing_is_limited() {
    let server = TestServer::start_with(|a| a.client_auth_failures = 3).await;
    let author = server.register("author").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let target = server.client_of(&author, &["submit_score"]).await;
    let guess = |id: &str, secret: &str| {
        server
            .anonymous()
            .post(server.url("/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "authorization_code"), ("code", "x")])
            .send()
    };
    for i in 0..3 {
        expect_oauth_error(
            guess(&target.id, &format!("CS{i}")).await.unwrap(),
            StatusCode::UNAUTHORIZED,
            "invalid_client",
        )
        .await;
    }
    let res = guess(&target.id, "CSmore").await.unwrap();
    assert_limited(&res);
    expect_oauth_error(res, StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable").await;
    // The address is over its limit for every client: wrong secrets for the other are refused too.
    assert_limited(&guess(&client.id, "CSwrong").await.unwrap());
    // Introspection and revocation share the limit.
    let res = server
        .anonymous()
        .post(server.url("/oauth/introspect"))
        .basic_auth(&target.id, Some("CSwrong"))
        .form(&[("token", "x")])
        .send()
        .await
        .unwrap();
    assert_limited(&res);
    // A right secret is never refused (client ids are public: a limit on them
    // would let anyone lock an integration out), not even from this address.
    expect_oauth_error(guess(&target.id, &target.secret).await.unwrap(), StatusCode::BAD_REQUEST, "invalid_grant")
        .await;
}

/// Unknown client and wrong secret: one answer, and both compare the
/// presented secret against a hash (a dummy one for an unknown client), so
/// neither the answer nor the work done tells which client ids exist. The
/// work is checked in the code, not with a stopwatch.
#[tokio::test]
async fn unknown_client_and_wrong_secret_are_indistinguishable() {
    use tachi_auth::domain::{PlainSecret, SecretHash};

    let src = include_str!("../../src/service/oauth.rs");
    let start = src.find("pub async fn authenticate_client").expect("authenticate_client exists");
    let body = &src[start..];
    let body = &body[..body[1..].find("pub async fn").map_or(body.len(), |i| i + 1)];
    let dummy = body.find("SecretHash::dummy()").expect("an unknown client is compared against a dummy hash");
    let compare = body.find(".matches(").expect("the secret is compared against a hash");
    let branch = body.find("match client").expect("the outcome is decided after the comparison");
    assert!(
        dummy < compare && compare < branch,
        "the comparison happens for known and unknown clients alike, before branching"
    );
    assert!(!body[..compare].contains("return"), "no early return before the comparison");
    // The dummy hash matches no secret, not even an empty one.
    for s in ["", "CS", "0000000000000000000000000000000000000000"] {
        assert!(!SecretHash::dummy().matches(&PlainSecret::from_presented(s)));
    }

    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let attempt = |id: String| {
        server
            .anonymous()
            .post(server.url("/oauth/token"))
            .basic_auth(id, Some("CSwrong"))
            .form(&[("grant_type", "authorization_code"), ("code", "x")])
            .send()
    };
    let known = attempt(client.id.clone()).await.unwrap();
    let unknown = attempt(format!("CI{}", "0".repeat(40))).await.unwrap();
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
}

// ---------------------------------------------------------------- logs

/// The real binary at debug level, through a full flow (both kinds of
/// login, a failed login, consent, the standard and the seeds' exchanges, the
/// key at work, introspection, revocation): no password, client secret, key,
/// code or session id appears in what it prints.
#[tokio::test]
async fn the_real_binary_logs_no_secrets() {
    for format in ["text", "json"] {
        let mut server = RunningBinary::start(&["--log-format", format], "debug").await;
        let secrets = full_flow(&server.base).await;
        // A graceful stop (SIGTERM), so everything it logged is flushed.
        server.terminate(std::time::Duration::from_secs(60)).await.expect("the binary stops");
        let log = server.output().await;
        assert!(log.contains("DEBUG"), "debug logging was on:\n{log}");
        assert!(log.contains("/oauth/token"), "requests were logged:\n{log}");
        for (what, secret) in &secrets {
            assert!(secret.len() >= 8, "{what} is a real value");
            assert!(!log.contains(secret.as_str()), "the {format} log contains the {what}:\n{log}");
        }
    }
}

/// Runs a full flow against `base`; returns every secret it saw, by name.
async fn full_flow(base: &str) -> Vec<(&'static str, String)> {
    let api = |p: &str| format!("{base}/api/v1{p}");
    let mut secrets = vec![("password", PASSWORD.to_owned())];
    let wrong_password = "wrong-password-guess-7f3a";
    secrets.push(("wrong password", wrong_password.into()));

    let author = browser();
    let res = author
        .post(api("/auth/register"))
        .json(&json!({ "username": "author", "!password": PASSWORD, "email": "a@example.org" }))
        .send()
        .await
        .unwrap();
    secrets.push(("author session id", set_cookie(&res, "Tachi_SESSION").unwrap()));
    expect_ok(res).await;
    let res = author
        .post(api("/clients/create"))
        .json(&json!({ "name": "Epic Games", "redirectUri": REDIRECT, "permissions": ["submit_score"] }))
        .send()
        .await
        .unwrap();
    let doc = expect_ok(res).await;
    let (client_id, client_secret) =
        (doc["clientID"].as_str().unwrap().to_owned(), doc["clientSecret"].as_str().unwrap().to_owned());
    secrets.push(("client secret", client_secret.clone()));

    let anon = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = anon
        .post(api("/auth/register"))
        .json(&json!({ "username": "player", "!password": PASSWORD, "email": "p@example.org" }))
        .send()
        .await
        .unwrap();
    secrets.push(("registration session id", set_cookie(&res, "Tachi_SESSION").unwrap()));
    let res = anon
        .post(api("/auth/login"))
        .json(&json!({ "username": "player", "!password": wrong_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);

    // The player's browser: the login page, the standard consent, the code.
    let http = browser();
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    secrets.push(("pre-login cookie", set_cookie(&page, "Tachi_PRELOGIN").unwrap()));
    let csrf = form_csrf(&page.text().await.unwrap());
    let res = http
        .post(format!("{base}/login"))
        .form(&[("csrf", csrf.as_str()), ("next", "/"), ("username", "player"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    secrets.push(("session id", set_cookie(&res, "Tachi_SESSION").unwrap()));
    let (verifier, challenge) = pkce_pair();
    secrets.push(("PKCE verifier", verifier.clone()));
    let url = format!(
        "{base}/oauth/authorize?response_type=code&client_id={client_id}&redirect_uri={}&state=state-f00d&code_challenge={challenge}&code_challenge_method=S256",
        urlencode(REDIRECT)
    );
    let page = http.get(&url).send().await.unwrap();
    let csrf = form_csrf(&page.text().await.unwrap());
    secrets.push(("session CSRF token", csrf.clone()));
    let res = http
        .post(format!("{base}/oauth/consent"))
        .form(&[("csrf", csrf.as_str()), ("client_id", &client_id), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    let code = query_param(&location(&res), "code").unwrap();
    secrets.push(("standard code", code.clone()));

    let res = anon
        .post(format!("{base}/oauth/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    let key = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
    secrets.push(("standard key", key.clone()));
    let res = anon.request(Method::GET, api("/status")).bearer_auth(&key).send().await.unwrap();
    expect_ok(res).await;
    // A replay and a wrong secret, so the failure paths log too.
    let res = anon
        .post(format!("{base}/oauth/token"))
        .basic_auth(&client_id, Some("CSwrong-secret-9c1e"))
        .form(&[("grant_type", "authorization_code"), ("code", &code)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    secrets.push(("wrong client secret", "CSwrong-secret-9c1e".into()));
    let res = anon
        .post(format!("{base}/oauth/token"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);

    // The seeds' flow in the same browser.
    let res = http.get(format!("{base}/oauth/request-auth?clientID={client_id}")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http.post(api("/oauth/create-code")).json(&json!({ "clientID": client_id })).send().await.unwrap();
    let seeds_code = expect_ok(res).await["code"].as_str().unwrap().to_owned();
    secrets.push(("seeds code", seeds_code.clone()));
    let res = anon
        .post(api("/oauth/token"))
        .json(&json!({ "client_id": client_id, "client_secret": client_secret, "grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": seeds_code }))
        .send()
        .await
        .unwrap();
    let seeds_key = expect_ok(res).await["token"].as_str().unwrap().to_owned();
    secrets.push(("seeds key", seeds_key.clone()));

    for path in ["/oauth/introspect", "/oauth/revoke"] {
        let res = anon
            .post(format!("{base}{path}"))
            .form(&[("client_id", client_id.as_str()), ("client_secret", &client_secret), ("token", &seeds_key)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let res = anon.request(Method::GET, api("/status")).bearer_auth(&seeds_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    secrets
}
