//! The test harness: a real tachi-auth on an ephemeral loopback port with a
//! fresh database, and helpers that speak the domain ("register a user",
//! "create a client", "approve a client") over real HTTP.
//!
//! Backend: a fresh SQLite file per server, or — when `TEST_DATABASE_URL`
//! names a PostgreSQL server — a fresh database on it per server.

#![allow(dead_code)]

pub mod binary;
pub mod browser;
pub mod db;
pub mod mail;
pub mod postgres;
pub mod tachi;
pub mod webhooks;

use std::net::SocketAddr;

use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tachi_auth::App;
use tachi_auth::config::ServeArgs;
use tachi_auth::domain::Clock;
use tokio::sync::oneshot;

pub const PASSWORD: &str = "correct horse battery";
/// Every permission, in the spec's order.
pub const ALL_PERMISSIONS: [&str; 8] = [
    "submit_score",
    "customise_profile",
    "customise_session",
    "customise_score",
    "delete_score",
    "manage_rivals",
    "manage_targets",
    "manage_challenges",
];
pub const REDIRECT: &str = "https://integration.example/tachi-callback";

/// How soon a change made by another process or instance (a revocation, a
/// ban) must reach a server's bearer cache. The README promises milliseconds
/// on PostgreSQL (LISTEN/NOTIFY) and 100 ms on SQLite (polling); without
/// them the cache would answer from a stale entry for its full 5 s.
pub const ANOTHER_PROCESS_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Retries `holds` every 2 ms until it is true, and says how long that took:
/// what another instance or process changed reaches a server's caches within
/// [`ANOTHER_PROCESS_WITHIN`], or this fails naming `what` it waited for.
pub async fn within_the_bound<F, Fut>(what: &str, holds: F) -> std::time::Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    while !holds().await {
        assert!(start.elapsed() < ANOTHER_PROCESS_WITHIN, "still waiting for {what} after {ANOTHER_PROCESS_WITHIN:?}");
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    start.elapsed()
}

/// A running server. Stopped (and its database dropped) when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub database_url: String,
    /// The server's time: the system's, plus what a test moved it on by
    /// (`clock.advance(…)`), so that codes and sessions expire without waiting.
    pub clock: Clock,
    shutdown: Option<oneshot::Sender<()>>,
    _db: db::TestDatabase,
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// Starts a server with settings changed by `configure`.
    pub async fn start_with(configure: impl FnOnce(&mut ServeArgs)) -> TestServer {
        let db = db::TestDatabase::create().await;
        let url = db.url.clone();
        TestServer::start_on(db, url, Clock::shifted(), configure).await
    }

    /// Starts a server on a database the test owns (e.g. its own PostgreSQL).
    pub async fn start_on_database(url: String, configure: impl FnOnce(&mut ServeArgs)) -> TestServer {
        TestServer::start_on(db::TestDatabase::shared(), url, Clock::shifted(), configure).await
    }

    /// The helpers for a server this harness did not start (the real binary
    /// in a process of its own); dropping it stops nothing.
    pub fn speaking_to(addr: SocketAddr, database_url: &str) -> TestServer {
        TestServer {
            addr,
            base: format!("http://{addr}"),
            database_url: database_url.to_owned(),
            clock: Clock::System,
            shutdown: None,
            _db: db::TestDatabase::shared(),
        }
    }

    /// Starts another server sharing this one's database (a second instance),
    /// and its clock.
    pub async fn another_instance(&self) -> TestServer {
        TestServer::start_on(db::TestDatabase::shared(), self.database_url.clone(), self.clock.clone(), |_| {}).await
    }

    /// Another instance on this one's database, with settings changed by `configure`.
    pub async fn another_instance_with(&self, configure: impl FnOnce(&mut ServeArgs)) -> TestServer {
        TestServer::start_on(db::TestDatabase::shared(), self.database_url.clone(), self.clock.clone(), configure).await
    }

    async fn start_on(
        db: db::TestDatabase,
        url: String,
        clock: Clock,
        configure: impl FnOnce(&mut ServeArgs),
    ) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let mut args = ServeArgs::defaults();
        args.listen = addr;
        args.database.database_url = url.clone();
        args.public_url = Some(format!("http://{addr}").parse().unwrap());
        configure(&mut args);
        let app = App::build_with_clock(&args, clock.clone()).await.expect("the app builds on a fresh database");
        let (tx, rx) = oneshot::channel();
        tokio::spawn(app.serve(listener, async {
            let _ = rx.await;
        }));
        TestServer { addr, base: format!("http://{addr}"), database_url: url, clock, shutdown: Some(tx), _db: db }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }

    /// A client with no cookies: a guest, or an integration's back end.
    pub fn anonymous(&self) -> Client {
        Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// Registers a user through the API and returns them logged in.
    pub async fn register(&self, username: &str) -> User {
        let http = Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let res = http
            .post(self.api("/auth/register"))
            .json(&json!({ "username": username, "!password": PASSWORD, "email": format!("{username}@example.org") }))
            .send()
            .await
            .unwrap();
        let body = expect_ok(res).await;
        User { id: body["id"].as_i64().unwrap(), username: username.into(), http, api: self.api("") }
    }

    /// `POST /auth/register` for `username` from a guest; the raw response.
    pub async fn try_register(&self, username: &str) -> Response {
        self.anonymous()
            .post(self.api("/auth/register"))
            .json(&json!({ "username": username, "!password": PASSWORD, "email": format!("{username}@example.org") }))
            .send()
            .await
            .unwrap()
    }

    /// User A's client with the seeds' example shape.
    pub async fn client_of(&self, author: &User, permissions: &[&str]) -> ApiClient {
        author.create_client(json!({ "name": "Epic Games", "redirectUri": REDIRECT, "permissions": permissions })).await
    }

    /// The token exchange as the integration's back end makes it.
    pub async fn exchange(&self, client: &ApiClient, code: &str) -> Response {
        self.anonymous()
            .post(self.api("/oauth/token"))
            .json(&json!({
                "client_id": client.id, "client_secret": client.secret, "grant_type": "authorization_code",
                "redirect_uri": client.redirect_uri(), "code": code,
            }))
            .send()
            .await
            .unwrap()
    }

    /// The whole seeds' flow: `user` approves `client`, the client exchanges
    /// the code; returns the API key.
    pub async fn authorize(&self, user: &User, client: &ApiClient) -> String {
        let code = user.approve(client).await;
        let body = expect_ok(self.exchange(client, &code).await).await;
        body["token"].as_str().unwrap().to_owned()
    }

    /// A request authenticated by an API key.
    pub fn with_key(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.anonymous().request(method, self.api(path)).bearer_auth(key)
    }

    /// Asks `GET /status` with `key` until it answers `expected`, and says how
    /// long that took; fails after [`ANOTHER_PROCESS_WITHIN`].
    pub async fn key_answers(&self, key: &str, expected: StatusCode) -> std::time::Duration {
        within_the_bound(&format!("the key answering {expected}"), || async {
            self.with_key(reqwest::Method::GET, "/status", key).send().await.unwrap().status() == expected
        })
        .await
    }

    /// A cookie-keeping client with no session yet: a fresh browser.
    pub fn browser(&self) -> Client {
        Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
    }

    /// `POST /auth/login` from `http` (whose cookie jar keeps the session on success).
    pub async fn login_with(&self, http: &Client, username: &str, password: &str) -> Response {
        http.post(self.api("/auth/login"))
            .json(&json!({ "username": username, "!password": password }))
            .send()
            .await
            .unwrap()
    }

    /// Logs `username` in from a fresh browser and returns them as a `User`.
    pub async fn login(&self, username: &str) -> User {
        self.login_as(username, PASSWORD).await
    }

    /// Logs `username` in with `password` from a fresh browser.
    pub async fn login_as(&self, username: &str, password: &str) -> User {
        let http = self.browser();
        let body = expect_ok(self.login_with(&http, username, password).await).await;
        User { id: body["userID"].as_i64().unwrap(), username: username.into(), http, api: self.api("") }
    }

    /// Operator action on this server's database, as `tachi-auth user NAME --admin/--banned` does.
    pub async fn set_user_flags(&self, username: &str, admin: Option<bool>, banned: Option<bool>) {
        let store = tachi_auth::storage::Store::open_existing(&self.database_url, &Default::default()).await.unwrap();
        let key = tachi_auth::domain::user::username_key(username);
        assert!(store.set_user_flags(&key, admin, banned).await.unwrap(), "no user {username}");
        store.close().await;
    }

    pub async fn ban(&self, username: &str) {
        self.set_user_flags(username, None, Some(true)).await;
    }

    /// The token exchange with a body the test writes itself.
    pub async fn exchange_with(&self, body: Value) -> Response {
        self.anonymous().post(self.api("/oauth/token")).json(&body).send().await.unwrap()
    }

    /// The exchange's JSON body for `client` and `code`, to alter one field of.
    pub fn exchange_body(&self, client: &ApiClient, code: &str) -> Value {
        json!({
            "client_id": client.id, "client_secret": client.secret, "grant_type": "authorization_code",
            "redirect_uri": client.redirect_uri(), "code": code,
        })
    }
}

/// The value of the cookie `name` set by a response, and its attributes.
pub fn set_cookie(res: &Response, name: &str) -> Option<(String, String)> {
    res.headers().get_all(reqwest::header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
        let (n, v) = pair.split_once('=')?;
        (n.trim() == name).then(|| (v.trim().to_owned(), attrs.to_owned()))
    })
}

/// The session cookie's name with the default site name.
pub const SESSION_COOKIE: &str = "Tachi_SESSION";

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A logged-in user: a cookie-keeping HTTP client.
pub struct User {
    pub id: i64,
    pub username: String,
    pub http: Client,
    api: String,
}

impl User {
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    pub fn base(&self) -> &str {
        self.api.trim_end_matches("/api/v1")
    }

    pub async fn create_client(&self, body: Value) -> ApiClient {
        let res = self.http.post(self.api("/clients/create")).json(&body).send().await.unwrap();
        let body = expect_ok(res).await;
        ApiClient {
            id: body["clientID"].as_str().unwrap().into(),
            secret: body["clientSecret"].as_str().unwrap().into(),
            doc: body,
        }
    }

    /// Opens the consent screen for `client` (which records the pending request).
    pub async fn open_consent(&self, client: &ApiClient) -> Response {
        self.http.get(format!("{}/oauth/request-auth?clientID={}", self.base(), client.id)).send().await.unwrap()
    }

    /// Opens the consent screen and creates the code, as the seeds' page does.
    pub async fn approve(&self, client: &ApiClient) -> String {
        assert_eq!(self.open_consent(client).await.status(), StatusCode::OK);
        let res = self
            .http
            .post(self.api("/oauth/create-code"))
            .json(&json!({ "clientID": client.id }))
            .send()
            .await
            .unwrap();
        let body = expect_ok(res).await;
        body["code"].as_str().unwrap().to_owned()
    }

    /// Who `GET /status` says this client is (`null` once its session has ended).
    pub async fn whoami(&self) -> Value {
        expect_ok(self.get("/status").await).await["whoami"].clone()
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http.get(self.api(path)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.http.post(self.api(path)).json(&body).send().await.unwrap()
    }

    pub async fn patch(&self, path: &str, body: Value) -> Response {
        self.http.patch(self.api(path)).json(&body).send().await.unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.http.delete(self.api(path)).send().await.unwrap()
    }

    /// `POST /users/:me/api-tokens/create` with `body`; the raw response.
    pub async fn request_key(&self, body: Value) -> Response {
        self.post(&format!("/users/{}/api-tokens/create", self.id), body).await
    }

    /// A personal API key with `permissions`; returns its token.
    pub async fn personal_key(&self, permissions: &[&str]) -> String {
        let doc = expect_ok(self.request_key(json!({ "permissions": permissions })).await).await;
        doc["token"].as_str().unwrap().to_owned()
    }

    /// This user's keys as `GET /users/:me/api-tokens` lists them.
    pub async fn keys(&self) -> Vec<Value> {
        let body = expect_ok(self.get(&format!("/users/{}/api-tokens", self.id)).await).await;
        body.as_array().unwrap().clone()
    }
}

/// An API client as its author holds it: id, secret, and the document.
#[derive(Clone)]
pub struct ApiClient {
    pub id: String,
    pub secret: String,
    pub doc: Value,
}

impl ApiClient {
    pub fn redirect_uri(&self) -> Value {
        self.doc["redirectUri"].clone()
    }
}

/// Asserts a successful envelope and returns its body.
pub async fn expect_ok(res: Response) -> Value {
    let status = res.status();
    let v: Value = res.json().await.expect("the response is JSON");
    assert_eq!(status, StatusCode::OK, "expected success, got {status}: {v}");
    assert_eq!(v["success"], true, "{v}");
    assert!(v["description"].is_string(), "{v}");
    v["body"].clone()
}

/// Asserts a failed envelope with `status` and returns its description.
pub async fn expect_err(res: Response, status: StatusCode) -> String {
    let got = res.status();
    let text = res.text().await.unwrap();
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not a JSON envelope ({got}): {text}"));
    assert_eq!(got, status, "expected {status}, got {got}: {v}");
    assert_eq!(v["success"], false, "{v}");
    let d = v["description"].as_str().expect("a description").to_owned();
    assert!(!d.is_empty());
    d
}
