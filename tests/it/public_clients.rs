//! Public clients (RFC 8252, RFC 7636): programs on the player's computer
//! that cannot keep a secret. They get none, must use PKCE, authenticate
//! with their client_id alone, and may use any port of a loopback redirect.
//! Proved with the Rust `oauth2` crate and Python's Authlib, unchanged.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
    TokenUrl,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::oauth_standard::{
    authorize_url, expect_oauth_error, form_csrf, form_field, location, person, pkce_pair, query_param,
};
use crate::support::{ApiClient, PASSWORD, TestServer, User, expect_err, expect_ok};

const LOOPBACK: &str = "http://127.0.0.1/callback";

async fn public_client(author: &User) -> ApiClient {
    let body =
        json!({ "name": "Score Hook", "redirectUri": LOOPBACK, "permissions": ["submit_score"], "public": true });
    let res = author.post("/clients/create", body).await;
    let doc = expect_ok(res).await;
    ApiClient { id: doc["clientID"].as_str().unwrap().into(), secret: String::new(), doc }
}

/// The program on the player's computer: listens on a free loopback port
/// and takes the one request the browser is sent to, answering it.
struct Program {
    listener: TcpListener,
    port: u16,
}

impl Program {
    async fn start() -> Program {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        Program { listener, port }
    }

    fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// The browser follows `to` (a redirect to this program); returns the
    /// query the program received.
    async fn receive(self, browser: &Client, to: &url::Url) -> url::Url {
        let accept = tokio::spawn(async move {
            let (mut stream, _) = self.listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).await.unwrap() == 1 {
                head.push(byte[0]);
            }
            let line = String::from_utf8_lossy(&head).lines().next().unwrap().to_owned();
            let target = line.split_whitespace().nth(1).unwrap().to_owned();
            let page = "You can close this window.";
            let answer =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}", page.len());
            stream.write_all(answer.as_bytes()).await.unwrap();
            target
        });
        let res = browser.get(to.as_str()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let target = accept.await.unwrap();
        url::Url::parse(&format!("http://127.0.0.1{target}")).unwrap()
    }
}

/// Opens the consent page at `url` in `browser` and approves what it shows;
/// returns where the browser is sent.
async fn approve(server: &TestServer, browser: &Client, client_id: &str, url: &str) -> url::Url {
    let page = browser.get(url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the consent page is shown for {url}");
    let page = page.text().await.unwrap();
    let form = [
        ("csrf", form_csrf(&page)),
        ("client_id", client_id.to_owned()),
        ("request", form_field(&page, "request")),
        ("decision", "approve".to_owned()),
    ];
    let res = browser.post(server.url("/oauth/consent")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    location(&res)
}

#[tokio::test]
async fn a_public_client_has_no_secret_and_requires_pkce() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = public_client(&author).await;
    assert_eq!(client.doc["public"], true);
    assert_eq!(client.doc["requirePKCE"], true);
    assert!(client.doc.get("clientSecret").is_none(), "no secret is issued: {}", client.doc);
    let res = author.post(&format!("/clients/{}/reset-secret", client.id), json!({})).await;
    let description = expect_err(res, StatusCode::BAD_REQUEST).await;
    assert!(description.contains("public client has no secret"), "{description}");
    // Listed as public, without a secret.
    let listed = expect_ok(author.get("/clients").await).await;
    assert_eq!(listed[0]["public"], true);
    // localhost is refused for a public client (RFC 8252 §8.3).
    let localhost = json!({ "name": "Hook", "redirectUri": "http://localhost/cb", "permissions": ["submit_score"], "public": true });
    expect_err(author.post("/clients/create", localhost).await, StatusCode::BAD_REQUEST).await;
    // The metadata says a client may authenticate with its id alone.
    let meta: Value = server
        .anonymous()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(meta["token_endpoint_auth_methods_supported"].as_array().unwrap().contains(&json!("none")), "{meta}");
}

/// The Rust `oauth2` crate as a program on the player's computer: no
/// secret, PKCE, a redirect to the port it listens on.
#[tokio::test]
async fn the_oauth2_crate_signs_in_without_a_secret_from_a_loopback_port() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (player, browser) = person(&server, "player").await;
    let client = public_client(&author).await;
    let program = Program::start().await;
    let oauth = BasicClient::new(ClientId::new(client.id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_auth_uri(AuthUrl::new(server.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(program.redirect_uri()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("submit_score".into()))
        .set_pkce_challenge(challenge)
        .url();
    let back = approve(&server, &browser, &client.id, url.as_str()).await;
    assert_eq!(back.port(), Some(program.port), "sent to the port the program listens on: {back}");
    let received = program.receive(&browser, &back).await;
    assert_eq!(query_param(&received, "state").as_deref(), Some(state.secret().as_str()));
    let code = query_param(&received, "code").expect("the program received a code");

    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let token = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("the oauth2 crate exchanges the code with its client_id alone");
    let key = token.access_token().secret();
    let status = expect_ok(server.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    assert_eq!(status["whoami"], player.id);
}

/// Python's Authlib with `token_endpoint_auth_method="none"`.
#[tokio::test]
async fn python_authlib_signs_in_as_a_public_client() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let player = server.register("player").await;
    let body = json!({ "name": "Stats Tool", "redirectUri": LOOPBACK, "permissions": ["customise_profile", "submit_score"], "public": true });
    let client = expect_ok(author.post("/clients/create", body).await).await;
    let program = Program::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/python/authlib_flow.py");
    let out = tokio::process::Command::new(std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()))
        .arg(script)
        .env("TACHI_BASE", &server.base)
        .env("TACHI_CLIENT_ID", client["clientID"].as_str().unwrap())
        .env("TACHI_CLIENT_SECRET", "")
        .env("TACHI_REDIRECT_URI", program.redirect_uri())
        .env("TACHI_USERNAME", &player.username)
        .env("TACHI_PASSWORD", PASSWORD)
        .env("TACHI_AUTH_METHOD", "none")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "authlib (public client) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(result["scope"], "customise_profile", "{result}");
    assert_eq!(result["revoked"], true, "{result}");
}

#[tokio::test]
async fn a_public_client_without_pkce_is_refused() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, browser) = person(&server, "player").await;
    let client = public_client(&author).await;
    let program = Program::start().await;
    let url = authorize_url(&server, &client.id, &[("redirect_uri", &program.redirect_uri()), ("state", "s")]);
    let res = browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert_eq!(back.port(), Some(program.port));
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"));
}

/// A public client's codes are redeemed with its id alone: never with a
/// secret (whatever it is), and never by a confidential client without its own.
#[tokio::test]
async fn secrets_are_for_confidential_clients_only() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, browser) = person(&server, "player").await;
    let public = public_client(&author).await;
    let program = Program::start().await;
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        &server,
        &public.id,
        &[("redirect_uri", &program.redirect_uri()), ("code_challenge", &challenge), ("code_challenge_method", "S256")],
    );
    let back = approve(&server, &browser, &public.id, &url).await;
    let code = query_param(&back, "code").unwrap();
    let grant = |secret: Option<&str>| {
        let mut form = vec![
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("code_verifier", verifier.clone()),
            ("redirect_uri", program.redirect_uri()),
            ("client_id", public.id.clone()),
        ];
        if let Some(secret) = secret {
            form.push(("client_secret", secret.to_owned()));
        }
        server.anonymous().post(server.url("/oauth/token")).form(&form).send()
    };
    expect_oauth_error(grant(Some("CSanything")).await.unwrap(), StatusCode::UNAUTHORIZED, "invalid_client").await;
    let token: Value = grant(None).await.unwrap().json().await.unwrap();
    assert!(token["access_token"].is_string(), "{token}");

    // A confidential client without its secret is refused, on both token endpoints.
    let confidential = server.client_of(&author, &["submit_score"]).await;
    let res = server
        .anonymous()
        .post(server.url("/oauth/token"))
        .form(&[("grant_type", "authorization_code"), ("code", "x"), ("client_id", &confidential.id)])
        .send()
        .await
        .unwrap();
    expect_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let mut seeds = server.exchange_body(&confidential, "x");
    seeds.as_object_mut().unwrap().remove("client_secret");
    let description = expect_err(server.exchange_with(seeds).await, StatusCode::BAD_REQUEST).await;
    assert!(description.contains("client_secret is missing"), "{description}");
}

/// Only a public client's loopback port may differ; a confidential client's
/// redirect URI stays exact.
#[tokio::test]
async fn only_a_public_clients_loopback_port_may_differ() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, browser) = person(&server, "player").await;
    let body = json!({ "name": "Web Service", "redirectUri": LOOPBACK, "permissions": ["submit_score"] });
    let confidential = author.create_client(body).await;
    let url = authorize_url(&server, &confidential.id, &[("redirect_uri", "http://127.0.0.1:4000/callback")]);
    let res = browser.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "never sent to an unregistered URI");
    let public = public_client(&author).await;
    for other in ["http://127.0.0.1:4000/elsewhere", "http://127.0.0.2:4000/callback", "http://localhost:4000/callback"]
    {
        let url = authorize_url(&server, &public.id, &[("redirect_uri", other)]);
        assert_eq!(browser.get(&url).send().await.unwrap().status(), StatusCode::BAD_REQUEST, "{other}");
    }
}
