//! Shared by the bench examples (`bench_seed`, `bench_flow`): a tiny client
//! of tachi-auth's public API. Not an example itself (no `main.rs`).

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "bench password correct horse";
pub const REDIRECT: &str = "https://bench.example/tachi-callback";

/// One HTTP client (connection pool) for everything; sessions are carried
/// by hand in a `Cookie` header so one pool serves every session.
pub fn http(pool: usize) -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

pub fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("bench: {msg}");
    std::process::exit(1)
}

/// `seed.env` written by `bench_seed setup`: KEY=value lines.
pub fn read_env(dir: &Path) -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(dir.join("seed.env")).unwrap_or_else(|e| fail(format!("cannot read seed.env: {e}")));
    text.lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// The envelope's body of a 200, or exit with what went wrong.
pub async fn ok_body(res: reqwest::Result<reqwest::Response>, what: &str) -> (Value, Option<String>) {
    let res = res.unwrap_or_else(|e| fail(format!("{what}: {e}")));
    let status = res.status();
    let cookie = session_cookie(&res);
    let v: Value = res.json().await.unwrap_or(Value::Null);
    if status != StatusCode::OK {
        fail(format!("{what}: {status} {v}"));
    }
    (v["body"].clone(), cookie)
}

/// `NAME_SESSION=value` from a response's Set-Cookie headers.
pub fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let pair = v.to_str().ok()?.split(';').next()?.trim();
        let (name, value) = pair.split_once('=')?;
        (name.ends_with("_SESSION") && !value.is_empty()).then(|| pair.to_owned())
    })
}

/// Logs `username` in; returns the `Cookie` header value of the new session.
pub async fn login(http: &Client, base: &str, username: &str) -> String {
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": username, "!password": PASSWORD }))
        .send()
        .await;
    let (_, cookie) = ok_body(res, "login").await;
    cookie.unwrap_or_else(|| fail("login set no session cookie"))
}

/// `sessions` logged-in sessions of one user, opened concurrently.
pub async fn logins(http: &Client, base: &str, username: &str, sessions: usize) -> Vec<String> {
    futures::future::join_all((0..sessions).map(|_| login(http, base, username))).await
}

/// Consent page + create-code as the logged-in user: one intermediate code.
/// `Err` carries what went wrong (status or transport error).
pub async fn new_code(http: &Client, base: &str, cookie: &str, client_id: &str) -> Result<String, String> {
    let res = http
        .get(format!("{base}/oauth/request-auth?clientID={client_id}"))
        .header(COOKIE, cookie)
        .send()
        .await
        .map_err(|e| format!("consent page: {e}"))?;
    if res.status() != StatusCode::OK {
        return Err(format!("consent page: {}", res.status()));
    }
    // Drain the page so the connection goes back to the pool.
    res.bytes().await.map_err(|e| format!("consent page: {e}"))?;
    let res = http
        .post(format!("{base}/api/v1/oauth/create-code"))
        .header(COOKIE, cookie)
        .json(&json!({ "clientID": client_id }))
        .send()
        .await
        .map_err(|e| format!("create-code: {e}"))?;
    let status = res.status();
    let v: Value = res.json().await.map_err(|e| format!("create-code: {e}"))?;
    match v["body"]["code"].as_str() {
        Some(code) if status == StatusCode::OK => Ok(code.to_owned()),
        _ => Err(format!("create-code: {status}")),
    }
}

/// Why an exchange gave no key.
#[derive(Debug)]
pub enum NoKey {
    /// No whole answer: the server is gone, or went away mid-answer.
    Unanswered(String),
    /// The server answered, and not with a key.
    Refused(StatusCode),
}

impl std::fmt::Display for NoKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoKey::Unanswered(e) => write!(f, "token: {e}"),
            NoKey::Refused(status) => write!(f, "token: {status}"),
        }
    }
}

/// The client's back end exchanges a code: returns the API key.
pub async fn exchange(http: &Client, base: &str, env: &BTreeMap<String, String>, code: &str) -> Result<String, NoKey> {
    let res = http
        .post(format!("{base}/api/v1/oauth/token"))
        .json(&json!({
            "client_id": env["CLIENT_ID"], "client_secret": env["CLIENT_SECRET"],
            "grant_type": "authorization_code", "redirect_uri": REDIRECT, "code": code,
        }))
        .send()
        .await
        .map_err(|e| NoKey::Unanswered(e.to_string()))?;
    let status = res.status();
    let v: Value = res.json().await.map_err(|e| NoKey::Unanswered(e.to_string()))?;
    match v["body"]["token"].as_str() {
        Some(token) if status == StatusCode::OK => Ok(token.to_owned()),
        _ => Err(NoKey::Refused(status)),
    }
}

/// Waits for load tasks that each return what they collected and a count
/// (errors, unanswered requests): all of it, and the sum of the counts.
pub async fn gather<T>(tasks: Vec<tokio::task::JoinHandle<(Vec<T>, usize)>>) -> (Vec<T>, usize) {
    let (mut all, mut count) = (Vec::new(), 0);
    for t in tasks {
        let (items, n) = t.await.unwrap_or_else(|e| fail(e));
        all.extend(items);
        count += n;
    }
    (all, count)
}

/// The `q` quantile (0..1) of sorted microsecond latencies, in ms.
pub fn quantile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let i = ((sorted_us.len() as f64 * q).ceil() as usize).clamp(1, sorted_us.len()) - 1;
    sorted_us[i] as f64 / 1000.0
}
