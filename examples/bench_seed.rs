//! Seeds a running tachi-auth for `bench/run`, through its public API only.
//!
//! ```text
//! bench_seed setup  BASE DIR            register users, a client and one key; write DIR/seed.env
//! bench_seed codes  BASE DIR N FILE     N fresh intermediate codes (consent page + create-code), one per line
//! bench_seed sessions BASE DIR N FILE   N logged-in sessions of the user (Cookie header values), one per line
//! bench_seed ready  URL [TIMEOUT_MS]    poll URL until it answers 200 (cold start measurement)
//! bench_seed exchange BASE DIR CODES TOKENS
//!                                       exchange CODES (64 at a time) until they run out or the server
//!                                       stops answering; write the key of every 200 to TOKENS
//! bench_seed verify BASE DIR TOKENS     every token in TOKENS still authenticates; print the user's key count
//! bench_seed database create SERVER     create a fresh database on the PostgreSQL SERVER (a URL); print its URL
//! bench_seed database drop SERVER URL   drop that database again
//! ```

#[path = "bench_support/mod.rs"]
mod support;

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::COOKIE;
use serde_json::json;
use support::{NoKey, PASSWORD, REDIRECT, fail, ok_body};

/// Sessions approving codes in parallel (a session holds one pending request per client).
const SEED_SESSIONS: usize = 32;
/// Requests in flight when verifying tokens.
const VERIFY_CONCURRENCY: usize = 32;
/// Exchanges in flight during the durability check (as many as wrk's connections).
const EXCHANGE_CONCURRENCY: usize = 64;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| {
        args.get(i).cloned().unwrap_or_else(|| fail("missing argument (see the header of examples/bench_seed.rs)"))
    };
    match args.first().map(String::as_str) {
        Some("setup") => setup(&arg(1), PathBuf::from(arg(2))).await,
        Some("codes") => {
            codes(&arg(1), PathBuf::from(arg(2)), arg(3).parse().unwrap_or_else(|_| fail("N")), PathBuf::from(arg(4)))
                .await
        }
        Some("sessions") => {
            let env = support::read_env(std::path::Path::new(&arg(2)));
            let n: usize = arg(3).parse().unwrap_or_else(|_| fail("N"));
            let cookies = support::logins(&support::http(n), &arg(1), &env["USERNAME"], n).await;
            std::fs::write(arg(4), cookies.join("\n") + "\n").unwrap_or_else(|e| fail(e));
        }
        Some("ready") => ready(&arg(1), args.get(2).and_then(|t| t.parse().ok()).unwrap_or(10_000)).await,
        Some("exchange") => {
            exchange(&arg(1), PathBuf::from(arg(2)), PathBuf::from(arg(3)), PathBuf::from(arg(4))).await
        }
        Some("verify") => verify(&arg(1), PathBuf::from(arg(2)), PathBuf::from(arg(3))).await,
        Some("database") => match arg(1).as_str() {
            "create" => println!("{}", fresh_database(&arg(2)).await),
            "drop" => drop_database(&arg(2), &arg(3)).await,
            _ => fail("usage: bench_seed database create SERVER | drop SERVER URL"),
        },
        _ => fail("usage: bench_seed setup|codes|sessions|ready|verify|database ... (see examples/bench_seed.rs)"),
    }
}

async fn setup(base: &str, dir: PathBuf) {
    let http = support::http(8);
    // Unique names: the PostgreSQL database may not be empty.
    let suffix = format!(
        "{:x}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() & 0xffff_ffff
    );
    let register = |name: String| {
        let http = http.clone();
        async move {
            let res = http
                .post(format!("{base}/api/v1/auth/register"))
                .json(&json!({ "username": name, "!password": PASSWORD, "email": format!("{name}@example.org") }))
                .send()
                .await;
            let (body, cookie) = ok_body(res, "register").await;
            (
                body["id"].as_i64().unwrap_or_else(|| fail("register: no id")),
                cookie.unwrap_or_else(|| fail("register: no cookie")),
            )
        }
    };
    let (author, player) = (format!("author{suffix}"), format!("player{suffix}"));
    let ((_, author_cookie), (player_id, player_cookie)) = tokio::join!(register(author), register(player.clone()));
    let res = http
        .post(format!("{base}/api/v1/clients/create"))
        .header(COOKIE, &author_cookie)
        .json(&json!({ "name": "Bench Integration", "redirectUri": REDIRECT, "permissions": ["customise_profile", "submit_score"] }))
        .send()
        .await;
    let (client, _) = ok_body(res, "create client").await;
    let res = http
        .post(format!("{base}/api/v1/users/{player_id}/api-tokens/create"))
        .header(COOKIE, &player_cookie)
        .json(&json!({ "permissions": ["customise_profile"], "identifier": "bench key" }))
        .send()
        .await;
    let (key, _) = ok_body(res, "create key").await;
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_else(|| fail("missing field")).to_owned();
    let env = format!(
        "USERNAME={player}\nUSER_ID={player_id}\nCLIENT_ID={}\nCLIENT_SECRET={}\nREDIRECT_URI={REDIRECT}\nKEY={}\n",
        s(&client["clientID"]),
        s(&client["clientSecret"]),
        s(&key["token"]),
    );
    std::fs::write(dir.join("seed.env"), env).unwrap_or_else(|e| fail(e));
}

async fn codes(base: &str, dir: PathBuf, n: usize, file: PathBuf) {
    let env = support::read_env(&dir);
    let http = support::http(SEED_SESSIONS);
    let started = Instant::now();
    let sessions = support::logins(&http, base, &env["USERNAME"], SEED_SESSIONS.min(n.max(1))).await;
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|cookie| {
            let (http, base, client_id, next) = (http.clone(), base.to_owned(), env["CLIENT_ID"].clone(), next.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let turn = next.fetch_add(1, Ordering::Relaxed);
                    if turn >= n {
                        break mine;
                    }
                    match support::new_code(&http, &base, &cookie, &client_id).await {
                        Ok(code) => mine.push((turn, code)),
                        Err(e) => fail(e),
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap_or_else(|e| fail(e)));
    }
    // In the order they were created, as a stream of sign-ups redeems its
    // codes (a code lives minutes; an integration redeems it at once).
    all.sort_unstable_by_key(|(turn, _)| *turn);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap_or_else(|e| fail(e)));
    let total = all.len();
    for (_, code) in all {
        writeln!(out, "{code}").unwrap_or_else(|e| fail(e));
    }
    out.flush().unwrap_or_else(|e| fail(e));
    let secs = started.elapsed().as_secs_f64();
    println!("seeded {total} codes in {secs:.1} s ({:.0}/s)", total as f64 / secs);
}

async fn ready(url: &str, timeout_ms: u64) {
    let http = support::http(1);
    let started = Instant::now();
    // Bounded: at most timeout_ms, one attempt per millisecond.
    while started.elapsed() < Duration::from_millis(timeout_ms) {
        if let Ok(res) = http.get(url).timeout(Duration::from_millis(500)).send().await {
            if res.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    fail(format!("{url} did not answer 200 within {timeout_ms} ms"));
}

/// The durability check's load: `bench/run` kills the server with `kill -9`
/// while this runs. Every key written out was answered with a 200, so it must
/// still work after the restart; `unanswered` are the exchanges in flight at
/// the kill (committed or not: nothing was promised).
async fn exchange(base: &str, dir: PathBuf, codes: PathBuf, tokens: PathBuf) {
    let env = Arc::new(support::read_env(&dir));
    let text = std::fs::read_to_string(&codes).unwrap_or_else(|e| fail(e));
    let codes: Arc<Vec<String>> = Arc::new(text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect());
    let http = support::http(EXCHANGE_CONCURRENCY);
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..EXCHANGE_CONCURRENCY)
        .map(|_| {
            let (http, base, env, codes, next) =
                (http.clone(), base.to_owned(), env.clone(), codes.clone(), next.clone());
            tokio::spawn(async move {
                let mut keys = Vec::new();
                while let Some(code) = codes.get(next.fetch_add(1, Ordering::Relaxed)) {
                    match support::exchange(&http, &base, &env, code).await {
                        Ok(key) => keys.push(key),
                        // The server is gone: this worker is done.
                        Err(NoKey::Unanswered(_)) => return (keys, 1),
                        // A fresh code refused by a live server is a bug.
                        Err(e @ NoKey::Refused(_)) => fail(format!("a fresh code was refused: {e}")),
                    }
                }
                (keys, 0)
            })
        })
        .collect();
    let (keys, unanswered) = support::gather(tasks).await;
    std::fs::write(&tokens, keys.iter().map(|k| format!("{k}\n")).collect::<String>()).unwrap_or_else(|e| fail(e));
    println!("answered={} unanswered={unanswered}", keys.len());
}

async fn verify(base: &str, dir: PathBuf, tokens: PathBuf) {
    let env = support::read_env(&dir);
    let text = std::fs::read_to_string(&tokens).unwrap_or_else(|e| fail(e));
    let tokens: Arc<Vec<String>> = Arc::new(text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect());
    let http = support::http(VERIFY_CONCURRENCY);
    let user_id: i64 = env["USER_ID"].parse().unwrap_or_else(|_| fail("USER_ID"));
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..VERIFY_CONCURRENCY)
        .map(|_| {
            let (http, base, tokens, next) = (http.clone(), base.to_owned(), tokens.clone(), next.clone());
            tokio::spawn(async move {
                let mut bad = 0usize;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(token) = tokens.get(i) else {
                        break bad;
                    };
                    let res = http.get(format!("{base}/api/v1/status")).bearer_auth(token).send().await;
                    let whoami = match res {
                        Ok(r) if r.status() == StatusCode::OK => {
                            r.json::<serde_json::Value>().await.ok().and_then(|v| v["body"]["whoami"].as_i64())
                        }
                        _ => None,
                    };
                    if whoami != Some(user_id) {
                        bad += 1;
                    }
                }
            })
        })
        .collect();
    let mut bad = 0;
    for t in tasks {
        bad += t.await.unwrap_or_else(|e| fail(e));
    }
    let cookie = support::login(&http, base, &env["USERNAME"]).await;
    let res = http.get(format!("{base}/api/v1/users/{user_id}/api-tokens")).header(COOKIE, cookie).send().await;
    let (keys, _) = ok_body(res, "list keys").await;
    let in_db = keys.as_array().map_or(0, Vec::len);
    println!("tokens={} working={} refused={bad} keys_in_db={in_db}", tokens.len(), tokens.len() - bad);
}

/// A new, empty database on the PostgreSQL server at `server`, so that every
/// run measures the same thing: a database that earlier runs filled with
/// keys and codes has larger indexes.
async fn fresh_database(server: &str) -> String {
    use sqlx::Connection;
    let name = format!("tachi_bench_{}", &tachi_auth::domain::secret::random_id("")[..12]);
    let mut admin = sqlx::PgConnection::connect(server).await.unwrap_or_else(|e| fail(format!("{server}: {e}")));
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.unwrap_or_else(|e| fail(e));
    let mut url = url::Url::parse(server).unwrap_or_else(|e| fail(e));
    url.set_path(&name);
    url.to_string()
}

async fn drop_database(server: &str, url: &str) {
    use sqlx::Connection;
    let name = url::Url::parse(url).unwrap_or_else(|e| fail(e)).path().trim_start_matches('/').to_owned();
    if !name.starts_with("tachi_bench_") || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        fail(format!("not a database this script created: {name}"));
    }
    let mut admin = sqlx::PgConnection::connect(server).await.unwrap_or_else(|e| fail(format!("{server}: {e}")));
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| fail(e));
}
