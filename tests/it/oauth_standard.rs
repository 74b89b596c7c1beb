//! The standard OAuth 2.0 server: RFC 6749 authorization code with PKCE
//! (RFC 7636), token, revocation (RFC 7009), introspection (RFC 7662) and
//! metadata (RFC 8414) — proven with real client libraries (the Rust
//! `oauth2` crate and Python's `authlib`), used unchanged.
//!
//! The helpers at the top (`pub(crate)`) are the "browser step" a client
//! library leaves to the user agent; `attacks.rs` uses them too.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl, PkceCodeChallenge,
    RedirectUrl, RequestTokenError, RevocationUrl, Scope, StandardRevocableToken, TokenIntrospectionResponse,
    TokenResponse, TokenUrl,
};
use reqwest::header::{CACHE_CONTROL, LOCATION, PRAGMA, WWW_AUTHENTICATE};
use reqwest::{Client, Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::support::{ALL_PERMISSIONS, ApiClient, PASSWORD, REDIRECT, TestServer, User, expect_ok};

// ---------------------------------------------------------------- helpers

/// A cookie-keeping client that does not follow redirects: a browser whose
/// address bar the test reads.
pub(crate) fn browser() -> Client {
    Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The value of the hidden `csrf` input of a page's form.
pub(crate) fn form_csrf(html: &str) -> String {
    form_field(html, "csrf")
}

/// The value of a hidden input of a page's form.
pub(crate) fn form_field(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let at = html.find(&marker).unwrap_or_else(|| panic!("the page has a {name} field"));
    let rest = &html[at + marker.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

/// Logs `username` in through the login page, as a person would.
pub(crate) async fn page_login(server: &TestServer, http: &Client, username: &str) -> Response {
    let page = http.get(server.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = form_csrf(&page.text().await.unwrap());
    http.post(server.url("/login"))
        .form(&[("csrf", csrf.as_str()), ("next", "/"), ("username", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap()
}

/// A registered user with a browser logged in through the login page.
pub(crate) async fn person(server: &TestServer, username: &str) -> (User, Client) {
    let user = server.register(username).await;
    let http = browser();
    let res = page_login(server, &http, username).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "login works");
    (user, http)
}

/// Opens the consent page at `authorize_url` and returns its CSRF token.
pub(crate) async fn open_consent(http: &Client, authorize_url: &str) -> String {
    let res = http.get(authorize_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the consent page is shown for {authorize_url}");
    form_csrf(&res.text().await.unwrap())
}

/// The consent form's answer, as the page posts it.
pub(crate) async fn answer_consent(
    server: &TestServer,
    http: &Client,
    csrf: &str,
    client_id: &str,
    decision: &str,
) -> Response {
    http.post(server.url("/oauth/consent"))
        .form(&[("csrf", csrf), ("client_id", client_id), ("decision", decision)])
        .send()
        .await
        .unwrap()
}

/// The browser step: open the authorization URL, approve, and return the
/// URL the browser is sent to (the client's redirect URI with the code).
pub(crate) async fn approve_in_browser(
    server: &TestServer,
    http: &Client,
    authorize_url: &str,
    client_id: &str,
) -> url::Url {
    let res = http.get(authorize_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "the consent page is shown for {authorize_url}");
    let page = res.text().await.unwrap();
    let (csrf, request) = (form_csrf(&page), form_field(&page, "request"));
    let res = http
        .post(server.url("/oauth/consent"))
        .form(&[("csrf", csrf.as_str()), ("client_id", client_id), ("request", &request), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    location(&res)
}

pub(crate) fn location(res: &Response) -> url::Url {
    let l = res.headers().get(LOCATION).expect("a redirect").to_str().unwrap();
    url::Url::parse(l).unwrap()
}

pub(crate) fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// A PKCE (S256) verifier (RFC 7636 §4.1: 43 base64url characters of 32
/// random bytes) and its challenge.
pub(crate) fn pkce_pair() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// `/oauth/authorize?…` for `client` with these extra parameters.
pub(crate) fn authorize_url(server: &TestServer, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&server.url("/oauth/authorize")).unwrap();
    url.query_pairs_mut().append_pair("response_type", "code").append_pair("client_id", client_id).extend_pairs(extra);
    url.to_string()
}

/// The whole standard flow up to the code: `http` (logged in) approves
/// `client` with PKCE; returns (code, verifier).
pub(crate) async fn standard_code(server: &TestServer, http: &Client, client: &ApiClient) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = authorize_url(
        server,
        &client.id,
        &[
            ("redirect_uri", REDIRECT),
            ("state", "st"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let back = approve_in_browser(server, http, &url, &client.id).await;
    (query_param(&back, "code").expect("a code"), verifier)
}

/// `POST /oauth/token` with body authentication and these parameters.
pub(crate) async fn token_post(server: &TestServer, client: &ApiClient, params: &[(&str, &str)]) -> Response {
    let mut form = vec![("client_id", client.id.as_str()), ("client_secret", client.secret.as_str())];
    form.extend_from_slice(params);
    server.anonymous().post(server.url("/oauth/token")).form(&form).send().await.unwrap()
}

/// Asserts an RFC 6749 §5.2 error and returns its body.
pub(crate) async fn expect_oauth_error(res: Response, status: StatusCode, error: &str) -> Value {
    let got = res.status();
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({got}): {text}"));
    assert_eq!(got, status, "{v}");
    assert_eq!(v["error"], error, "{v}");
    assert!(v["error_description"].is_string(), "{v}");
    v
}

/// `POST /oauth/introspect` by `client` (body authentication).
pub(crate) async fn introspect(server: &TestServer, client: &ApiClient, token: &str) -> Value {
    let res = server
        .anonymous()
        .post(server.url("/oauth/introspect"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

/// Does the API accept this key?
pub(crate) async fn key_works(server: &TestServer, key: &str) -> bool {
    let res = server.with_key(Method::GET, "/status", key).send().await.unwrap();
    match res.status() {
        StatusCode::OK => true,
        StatusCode::UNAUTHORIZED => false,
        s => panic!("unexpected status {s}"),
    }
}

fn oauth2_client(
    server: &TestServer,
    client: &ApiClient,
) -> oauth2::basic::BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
    oauth2::EndpointSet,
> {
    BasicClient::new(ClientId::new(client.id.clone()))
        .set_client_secret(ClientSecret::new(client.secret.clone()))
        .set_auth_uri(AuthUrl::new(server.url("/oauth/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
        .set_revocation_url(RevocationUrl::new(server.url("/oauth/revoke")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(server.url("/oauth/introspect")).unwrap())
}

/// The `oauth2` crate's HTTP client: reqwest, never following redirects
/// (as the crate's documentation requires, against SSRF).
fn oauth2_http() -> Client {
    Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

// ---------------------------------------------------------------- the Rust oauth2 crate

/// The `oauth2` crate, unchanged: code + PKCE + state, then introspection
/// and revocation through the crate too.
async fn oauth2_crate_flow(auth_type: AuthType) {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (player, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["customise_profile", "submit_score"]).await;
    let oauth = oauth2_client(&server, &client).set_auth_type(auth_type);

    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state) = oauth
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("customise_profile".into()))
        .set_pkce_challenge(pkce_challenge)
        .url();
    let back = approve_in_browser(&server, &http, url.as_str(), &client.id).await;
    assert!(back.as_str().starts_with(REDIRECT), "{back}");
    assert_eq!(query_param(&back, "state").as_deref(), Some(csrf_state.secret().as_str()));
    assert_eq!(query_param(&back, "iss"), Some(server.base.clone()), "RFC 9207 iss");
    let code = query_param(&back, "code").unwrap();

    let http = oauth2_http();
    let token = oauth
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .expect("the oauth2 crate exchanges the code");
    assert_eq!(*token.token_type(), oauth2::basic::BasicTokenType::Bearer);
    let scopes: Vec<String> = token.scopes().unwrap().iter().map(|s| s.to_string()).collect();
    assert_eq!(scopes, ["customise_profile"], "the approved subset of the client's permissions");
    let key = token.access_token().secret().clone();

    // The key is an API key with exactly that scope.
    let status = expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
    assert_eq!(status["whoami"], player.id);
    assert_eq!(status["permissions"], json!(["customise_profile"]));

    let info = oauth.introspect(token.access_token()).request_async(&http).await.expect("introspection");
    assert!(info.active());
    assert_eq!(info.username(), Some("player"));
    assert_eq!(info.client_id().map(|c| c.as_str()), Some(client.id.as_str()));
    assert_eq!(info.sub(), Some(player.id.to_string().as_str()));
    assert!(info.iat().is_some());

    // The crate refuses a revocation endpoint over plain http (RFC 7009
    // §2 requires TLS), and the test server is plain http on loopback; the
    // request it would send, by hand:
    assert!(matches!(
        oauth.revoke_token(StandardRevocableToken::AccessToken(token.access_token().clone())),
        Err(oauth2::ConfigurationError::InsecureUrl(_))
    ));
    let res = http
        .post(server.url("/oauth/revoke"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("token", key.as_str()), ("token_type_hint", "access_token")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!key_works(&server, &key).await, "a revoked key is refused");
    let info = oauth.introspect(token.access_token()).request_async(&http).await.unwrap();
    assert!(!info.active());
}

#[tokio::test]
async fn rust_oauth2_crate_completes_the_flow_with_basic_auth() {
    oauth2_crate_flow(AuthType::BasicAuth).await;
}

#[tokio::test]
async fn rust_oauth2_crate_completes_the_flow_with_body_auth() {
    oauth2_crate_flow(AuthType::RequestBody).await;
}

#[tokio::test]
async fn rust_oauth2_crate_reads_the_standard_errors() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    assert_eq!(bogus_code_error(&server, &client).await, BasicErrorResponseType::InvalidGrant);
    let mut wrong = client.clone();
    wrong.secret = "CSwrong".into();
    assert_eq!(bogus_code_error(&server, &wrong).await, BasicErrorResponseType::InvalidClient);
}

/// The error the crate parses from the token endpoint's answer to a bogus code.
async fn bogus_code_error(server: &TestServer, client: &ApiClient) -> BasicErrorResponseType {
    let oauth = oauth2_client(server, client);
    let exchange = oauth.exchange_code(AuthorizationCode::new("not-a-code".into()));
    match exchange.request_async(&oauth2_http()).await {
        Err(RequestTokenError::ServerResponse(e)) => e.error().clone(),
        other => panic!("expected an RFC 6749 error response, got {other:?}"),
    }
}

// ---------------------------------------------------------------- Python authlib

/// `tests/clients/python/authlib_flow.py`: authlib's OAuth2Session with
/// PKCE, endpoints discovered from the RFC 8414 metadata, both client
/// authentication methods. `scripts/test` installs authlib.
#[tokio::test]
async fn python_authlib_completes_the_flow_with_discovery() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = tokio::process::Command::new(&python).args(["-c", "import authlib, requests"]).output().await;
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "{python} with authlib and requests is needed: run ./scripts/test, or pip install authlib requests"
    );
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["customise_profile", "submit_score"]).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/python/authlib_flow.py");
    for method in ["client_secret_basic", "client_secret_post"] {
        let out = tokio::process::Command::new(&python)
            .arg(script)
            .env("TACHI_BASE", &server.base)
            .env("TACHI_CLIENT_ID", &client.id)
            .env("TACHI_CLIENT_SECRET", &client.secret)
            .env("TACHI_REDIRECT_URI", REDIRECT)
            .env("TACHI_USERNAME", &player.username)
            .env("TACHI_PASSWORD", PASSWORD)
            .env("TACHI_AUTH_METHOD", method)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "authlib flow ({method}) failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let result: Value =
            serde_json::from_str(stdout.lines().last().unwrap_or("")).expect("the script prints a JSON line");
        assert_eq!(result["scope"], "customise_profile", "{result}");
        assert_eq!(result["introspected_sub"], player.id.to_string(), "{result}");
        assert_eq!(result["revoked"], true, "{result}");
        // The script revoked the key it obtained; a second one it kept is live.
        let kept = result["kept_token"].as_str().unwrap();
        let status = expect_ok(server.with_key(Method::GET, "/status", kept).send().await.unwrap()).await;
        assert_eq!(status["whoami"], player.id);
        assert!(!key_works(&server, result["revoked_token"].as_str().unwrap()).await);
    }
}

// ---------------------------------------------------------------- the endpoints' contracts

#[tokio::test]
async fn metadata_lists_exactly_what_is_supported() {
    let server = TestServer::start().await;
    let res = server.anonymous().get(server.url("/.well-known/oauth-authorization-server")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let m: Value = res.json().await.unwrap();
    let issuer = server.base.clone();
    assert_eq!(m["issuer"], issuer);
    assert_eq!(m["authorization_endpoint"], format!("{issuer}/oauth/authorize"));
    assert_eq!(m["token_endpoint"], format!("{issuer}/oauth/token"));
    assert_eq!(m["revocation_endpoint"], format!("{issuer}/oauth/revoke"));
    assert_eq!(m["introspection_endpoint"], format!("{issuer}/oauth/introspect"));
    assert_eq!(m["response_types_supported"], json!(["code"]));
    assert_eq!(
        m["grant_types_supported"],
        json!(["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"])
    );
    assert_eq!(m["device_authorization_endpoint"], format!("{issuer}/oauth/device_authorization"));
    assert_eq!(m["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(m["scopes_supported"], json!(ALL_PERMISSIONS));
    assert_eq!(m["authorization_response_iss_parameter_supported"], true);
    // Every advertised endpoint exists.
    for key in ["token_endpoint", "revocation_endpoint", "introspection_endpoint", "device_authorization_endpoint"] {
        let res = server.anonymous().post(m[key].as_str().unwrap()).form(&[("x", "y")]).send().await.unwrap();
        assert_ne!(res.status(), StatusCode::NOT_FOUND, "{key}");
    }
}

#[tokio::test]
async fn the_token_response_is_rfc6749_section_5_1() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["customise_profile", "submit_score"]).await;
    let (code, verifier) = standard_code(&server, &http, &client).await;
    // redirect_uri is optional at this endpoint; when sent it must match.
    let res = token_post(
        &server,
        &client,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &verifier),
            ("redirect_uri", REDIRECT),
        ],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(res.headers()[PRAGMA], "no-cache");
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let body: Value = res.json().await.unwrap();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["access_token", "scope", "token_type"], "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "submit_score customise_profile");
    assert!(key_works(&server, body["access_token"].as_str().unwrap()).await);
}

#[tokio::test]
async fn token_errors_are_rfc6749_section_5_2() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let url = server.url("/oauth/token");
    let anon = server.anonymous();
    let grant = [("grant_type", "authorization_code"), ("code", "nope")];

    expect_oauth_error(
        token_post(&server, &client, &[("code", "nope")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    expect_oauth_error(
        token_post(&server, &client, &[("grant_type", "password")]).await,
        StatusCode::BAD_REQUEST,
        "unsupported_grant_type",
    )
    .await;
    expect_oauth_error(
        token_post(&server, &client, &[("grant_type", "authorization_code")]).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    )
    .await;
    expect_oauth_error(token_post(&server, &client, &grant).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let mismatch =
        [("grant_type", "authorization_code"), ("code", "nope"), ("redirect_uri", "https://integration.example/other")];
    expect_oauth_error(token_post(&server, &client, &mismatch).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let scope = [("grant_type", "authorization_code"), ("code", "nope"), ("scope", "root")];
    expect_oauth_error(token_post(&server, &client, &scope).await, StatusCode::BAD_REQUEST, "invalid_scope").await;

    // Client authentication: none, wrong by Basic, wrong by body, both at once.
    let res = anon.post(&url).form(&grant).send().await.unwrap();
    assert!(res.headers()[WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic realm="));
    expect_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = anon.post(&url).basic_auth(&client.id, Some("CSwrong")).form(&grant).send().await.unwrap();
    assert!(res.headers()[WWW_AUTHENTICATE].to_str().unwrap().starts_with("Basic realm="));
    expect_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = anon.post(&url).basic_auth("CIunknown", Some("CSwrong")).form(&grant).send().await.unwrap();
    expect_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = anon
        .post(&url)
        .form(&[("client_id", client.id.as_str()), ("client_secret", "CSwrong"), grant[0], grant[1]])
        .send()
        .await
        .unwrap();
    expect_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = anon
        .post(&url)
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("client_id", client.id.as_str()), ("client_secret", client.secret.as_str()), grant[0], grant[1]])
        .send()
        .await
        .unwrap();
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;

    // Not a form, a parameter twice (RFC 6749 §3.2), the wrong method.
    let res = anon.post(&url).json(&json!({ "client_id": client.id, "client_secret": client.secret, "grant_type": "authorization_code", "code": "x" })).send().await.unwrap();
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let res = anon
        .post(&url)
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[grant[0], grant[1], ("code", "other")])
        .send()
        .await
        .unwrap();
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    assert_eq!(anon.get(&url).send().await.unwrap().status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// RFC 6749 §2.3.1: Basic credentials are form-urlencoded before base64.
#[tokio::test]
async fn basic_credentials_are_form_urlencoded() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let (code, verifier) = standard_code(&server, &http, &client).await;
    let encode_all = |s: &str| s.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let raw = format!("{}:{}", encode_all(&client.id), encode_all(&client.secret));
    let header = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw));
    let res = server
        .anonymous()
        .post(server.url("/oauth/token"))
        .header("authorization", header)
        .form(&[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
}

#[tokio::test]
async fn a_code_is_redeemed_at_most_once() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let (code, verifier) = standard_code(&server, &http, &client).await;
    let params = [("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier)];
    let (a, b) = tokio::join!(token_post(&server, &client, &params), token_post(&server, &client, &params));
    let ok = [a.status(), b.status()].iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "of two concurrent exchanges exactly one succeeds");
    let again = token_post(&server, &client, &params).await;
    expect_oauth_error(again, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn introspection_and_revocation_concern_only_the_callers_own_keys() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (player, http) = person(&server, "player").await;
    let mine = server.client_of(&author, &["submit_score"]).await;
    let other = server.client_of(&author, &["submit_score"]).await;
    let (code, verifier) = standard_code(&server, &http, &mine).await;
    let res = token_post(
        &server,
        &mine,
        &[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier)],
    )
    .await;
    let key = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();

    let info = introspect(&server, &mine, &key).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["scope"], "submit_score");
    assert_eq!(info["client_id"], mine.id.as_str());
    assert_eq!(info["username"], "player");
    assert_eq!(info["sub"], player.id.to_string());
    assert_eq!(info["token_type"], "Bearer");
    assert!(info["iat"].as_i64().unwrap() > 1_600_000_000);

    // Another client learns nothing about it, and cannot revoke it.
    assert_eq!(introspect(&server, &other, &key).await, json!({ "active": false }));
    assert_eq!(introspect(&server, &mine, "0123456789abcdef").await, json!({ "active": false }));
    let personal = expect_ok(
        player
            .post(&format!("/users/{}/api-tokens/create", player.id), json!({ "permissions": ["submit_score"] }))
            .await,
    )
    .await;
    let personal = personal["token"].as_str().unwrap();
    assert_eq!(introspect(&server, &mine, personal).await, json!({ "active": false }), "a personal key is no client's");

    let revoke = |c: &ApiClient, token: &str| {
        server
            .anonymous()
            .post(server.url("/oauth/revoke"))
            .basic_auth(&c.id, Some(&c.secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
    };
    assert_eq!(revoke(&other, &key).await.unwrap().status(), StatusCode::OK, "RFC 7009: 200 regardless");
    assert!(key_works(&server, &key).await, "another client's revocation does nothing");
    assert_eq!(revoke(&mine, personal).await.unwrap().status(), StatusCode::OK);
    assert!(key_works(&server, personal).await);
    assert_eq!(revoke(&mine, &key).await.unwrap().status(), StatusCode::OK);
    assert!(!key_works(&server, &key).await);
    assert_eq!(revoke(&mine, &key).await.unwrap().status(), StatusCode::OK, "an unknown token is fine too");

    // Both need the client's credentials and a token.
    for path in ["/oauth/revoke", "/oauth/introspect"] {
        let res = server.anonymous().post(server.url(path)).form(&[("token", key.as_str())]).send().await.unwrap();
        expect_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
        let res = server
            .anonymous()
            .post(server.url(path))
            .basic_auth(&mine.id, Some("CSwrong"))
            .form(&[("token", key.as_str())])
            .send()
            .await
            .unwrap();
        expect_oauth_error(res, StatusCode::UNAUTHORIZED, "invalid_client").await;
        let res = server
            .anonymous()
            .post(server.url(path))
            .basic_auth(&mine.id, Some(&mine.secret))
            .form(&[("x", "y")])
            .send()
            .await
            .unwrap();
        expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    }
}

/// RFC 6750 §3: the API's bearer challenges.
#[tokio::test]
async fn the_api_answers_with_rfc6750_bearer_challenges() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let key = server.authorize(&player, &client).await;

    let res = server.with_key(Method::GET, "/status", "0000000000000000000000000000000000000000").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer error="invalid_token""#);

    let res = server
        .with_key(Method::PATCH, &format!("/users/{}", player.id), &key)
        .json(&json!({ "about": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.headers()[WWW_AUTHENTICATE], r#"Bearer error="insufficient_scope""#);
}

#[tokio::test]
async fn a_client_can_require_pkce_and_plain_is_refused() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let strict = author
        .create_client(json!({ "name": "Strict App", "redirectUri": REDIRECT, "permissions": ["submit_score"], "requirePKCE": true }))
        .await;
    assert_eq!(strict.doc["requirePKCE"], true);

    // Without a challenge: the error goes back to the client, with state and iss.
    let res = http.get(authorize_url(&server, &strict.id, &[("state", "s1")])).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_request"));
    assert_eq!(query_param(&back, "state").as_deref(), Some("s1"));
    assert_eq!(query_param(&back, "iss"), Some(server.base.clone()));
    assert_eq!(query_param(&back, "code"), None);

    // plain is refused for every client.
    let (verifier, _) = pkce_pair();
    for c in [&strict, &server.client_of(&author, &["submit_score"]).await] {
        let url = authorize_url(&server, &c.id, &[("code_challenge", &verifier), ("code_challenge_method", "plain")]);
        let res = http.get(url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(query_param(&location(&res), "error").as_deref(), Some("invalid_request"));
    }

    // With S256 the strict client completes, and only with the verifier.
    let (code, verifier) = standard_code(&server, &http, &strict).await;
    let res = token_post(
        &server,
        &strict,
        &[("grant_type", "authorization_code"), ("code", &code), ("code_verifier", &verifier)],
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn declining_sends_access_denied_with_state_and_iss() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let csrf = open_consent(&http, &authorize_url(&server, &client.id, &[("state", "xyz")])).await;
    let res = answer_consent(&server, &http, &csrf, &client.id, "decline").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert!(back.as_str().starts_with(REDIRECT));
    assert_eq!(query_param(&back, "error").as_deref(), Some("access_denied"));
    assert_eq!(query_param(&back, "state").as_deref(), Some("xyz"));
    assert_eq!(query_param(&back, "iss"), Some(server.base.clone()));
    assert_eq!(query_param(&back, "code"), None);
}

#[tokio::test]
async fn scope_is_a_subset_of_the_clients_permissions() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let res = http
        .get(authorize_url(&server, &client.id, &[("scope", "submit_score delete_score"), ("state", "q")]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert_eq!(query_param(&back, "error").as_deref(), Some("invalid_scope"));
    assert_eq!(query_param(&back, "state").as_deref(), Some("q"));
    // Only the code flow: an implicit-grant request gets an error, never a token.
    let url = format!("{}?response_type=token&client_id={}&state=q", server.url("/oauth/authorize"), client.id);
    let res = http.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let back = location(&res);
    assert_eq!(query_param(&back, "error").as_deref(), Some("unsupported_response_type"));
    assert!(back.fragment().is_none());
}

#[tokio::test]
async fn control_characters_in_state_or_context_are_refused_not_stored() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let (_, http) = person(&server, "player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    // State comes back in a redirect and both are stored as text (PostgreSQL refuses NUL).
    for (name, value) in [("state", "a\u{0}b"), ("state", "line\nbreak"), ("context", "a\u{0}b")] {
        let res = http.get(authorize_url(&server, &client.id, &[(name, value)])).send().await.unwrap();
        let status = res.status();
        let location = res.headers().get(LOCATION).map(|l| l.to_str().unwrap().to_owned());
        assert!(status.is_client_error() || status.is_redirection(), "{name}={value:?}: {status}");
        if let Some(location) = location {
            // Redirected errors carry error=invalid_request, never a code.
            assert!(location.contains("error=invalid_request") && !location.contains("code="), "{location}");
        } else {
            assert!(res.text().await.unwrap().contains(name), "the page names the parameter");
        }
    }
}
