//! Running it in production: settings refused rather than clamped, operator
//! commands that never create a database, clear start-up errors, the start
//! line, request logs (text and JSON) with request ids, the config file,
//! the metrics listener, backups and restores, and stopping under load.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::binary::{RunningBinary, free_addr, run};
use crate::support::db::TestDatabase;
use crate::support::{ALL_PERMISSIONS, TestServer, expect_ok};

/// Each bad value is refused at start, with a message naming the setting
/// and what it may be; nothing is silently changed to fit.
#[tokio::test]
async fn bad_settings_are_refused_naming_the_setting_and_its_range() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--database-url", "sqlite:"], &["--database-url", "names no file"]),
        (&["--database-url", "sqlite://"], &["--database-url", "names no file"]),
        (&["--database-url", "sqlite::memory:"], &["--database-url", "in-memory"]),
        (&["--database-url", "mysql://db/x"], &["--database-url", "sqlite://FILE"]),
        (&["--public-url", "ftp://example.org"], &["--public-url", "http:// or https://"]),
        (&["--public-url", "javascript:alert(1)"], &["--public-url", "http:// or https://"]),
        (&["--code-lifetime", "0"], &["--code-lifetime", "1..=86400"]),
        (&["--device-code-lifetime", "0"], &["--device-code-lifetime", "1..=3600"]),
        (&["--device-code-lifetime", "3601"], &["--device-code-lifetime", "1..=3600"]),
        (&["--session-lifetime", "59"], &["--session-lifetime", "60..=31536000"]),
        (&["--sessions-per-user", "0"], &["--sessions-per-user", "1..=10000"]),
        (&["--logins-in-flight-per-ip", "0"], &["--logins-in-flight-per-ip", "1..=1000"]),
        (&["--limit-window", "0"], &["--limit-window", "1..=86400"]),
        (&["--db-max-connections", "0"], &["--db-max-connections", "1..=1000"]),
        (&["--db-acquire-timeout-ms", "0"], &["--db-acquire-timeout-ms", "1..=600000"]),
        (&["--max-connections", "0"], &["--max-connections", "1..=1000000"]),
        (&["--header-timeout", "0"], &["--header-timeout", "1..=3600"]),
        (&["--max-header-bytes", "1024"], &["--max-header-bytes", "8192..=1048576"]),
        (&["--shutdown-grace", "86400"], &["--shutdown-grace", "0..=3600"]),
        (&["--client-cap", "100001"], &["--client-cap", "0..=100000"]),
        (&["--login-failures-per-account", "0"], &["--login-failures-per-account", "1..=1000000"]),
        (&["--login-failures-per-ip", "0"], &["--login-failures-per-ip", "1..=1000000"]),
        (&["--registrations-per-ip", "0"], &["--registrations-per-ip", "1..=1000000"]),
        (&["--client-auth-failures", "0"], &["--client-auth-failures", "1..=1000000"]),
        (&["--personal-key-cap", "100001"], &["--personal-key-cap", "0..=100000"]),
        (&["--reset-code-lifetime", "5"], &["--reset-code-lifetime", "60..=604800"]),
        (&["--verify-code-lifetime", "0"], &["--verify-code-lifetime", "60..=2592000"]),
        (&["--mail-retry-base-ms", "0"], &["--mail-retry-base-ms", "1..=1800000"]),
        (&["--security-log-retention", "0"], &["--security-log-retention", "1..=36500"]),
        (&["--site-name", ""], &["--site-name", "1 to 64 characters"]),
        (&["--smtp-url", "https://mail.example"], &["--smtp-url", "smtp:// or smtps://"]),
        (&["--mail-from", "nobody"], &["--mail-from", "not a mail address"]),
    ];
    for (args, expected) in cases {
        let out = run(&[&["serve"], *args].concat(), &[], None).await;
        assert!(!out.success, "{args:?} was accepted");
        for e in *expected {
            assert!(out.stderr.contains(e), "{args:?}: the message lacks {e:?}:\n{}", out.stderr);
        }
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    // The same parsers judge the environment.
    let out = run(&["serve"], &[("TACHI_AUTH_CODE_LIFETIME", "0")], None).await;
    assert!(!out.success && out.stderr.contains("--code-lifetime"), "{}", out.stderr);
}

/// `tachi-auth user` run where there is no database says where it looked
/// and creates nothing there.
#[tokio::test]
async fn operator_commands_never_create_a_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["user", "someone", "--admin", "true"], &[], Some(dir.path())).await;
    assert!(!out.success);
    let expected = dir.path().join("tachi-auth.db");
    assert!(out.stderr.contains(&expected.display().to_string()), "names the file it looked for:\n{}", out.stderr);
    assert!(out.stderr.contains("never create"), "{}", out.stderr);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "it created {left:?}");

    // An empty PostgreSQL database (or an empty SQLite file) is not ours: refused, not migrated.
    let db = TestDatabase::create().await;
    if db.url.starts_with("sqlite") {
        std::fs::File::create(db.url.trim_start_matches("sqlite://")).unwrap();
    }
    let out = run(&["user", "someone", "--admin", "true", "--database-url", &db.url], &[], None).await;
    assert!(!out.success && out.stderr.contains("not a tachi-auth database"), "{}", out.stderr);
}

/// On the server's database, the command says which database it changed.
#[tokio::test]
async fn operator_commands_name_the_database_they_opened() {
    let server = TestServer::start().await;
    server.register("player").await;
    let url = server.database_url.clone();
    let out = run(&["user", "player", "--admin", "true", "--database-url", &url], &[], None).await;
    assert!(out.success, "{}", out.stderr);
    let named =
        if url.starts_with("sqlite") { url.trim_start_matches("sqlite://").to_owned() } else { "PostgreSQL".into() };
    assert!(out.stdout.contains("updated player") && out.stdout.contains(&named), "{}", out.stdout);
    let out = run(&["user", "nobody", "--banned", "true", "--database-url", &url], &[], None).await;
    assert!(!out.success && out.stderr.contains("no user is named 'nobody'") && out.stderr.contains(&named));
}

/// A database that cannot be opened is named with the reason, never with
/// a password.
#[tokio::test]
async fn unopenable_databases_are_named_with_the_reason() {
    let out = run(&["serve", "--database-url", "sqlite:///no/such/folder/t.db"], &[], None).await;
    assert!(!out.success);
    assert!(
        out.stderr.contains("/no/such/folder/t.db") && out.stderr.contains("the folder /no/such/folder does not exist")
    );

    let refused = free_addr();
    let url = format!("postgres://tachi:s3cret-pa55word@{refused}/tachi");
    let out = run(&["serve", "--database-url", &url, "--db-acquire-timeout-ms", "2000"], &[], None).await;
    assert!(!out.success);
    assert!(out.stderr.contains(&refused.to_string()) && out.stderr.contains("refused"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cret-pa55word"), "the password is shown:\n{}", out.stderr);
}

/// `/readyz` asks what a request would: with the schema gone it is not ready.
#[tokio::test]
async fn readyz_fails_when_a_query_would() {
    let server = TestServer::start().await;
    let http = server.anonymous();
    assert_eq!(http.get(server.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let rename = |from: &str, to: &str| format!("ALTER TABLE {from} RENAME TO {to}");
    crate::support::db::execute(&server.database_url, &rename("users", "users_away")).await;
    assert_eq!(http.get(server.url("/readyz")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    let res = http.get(server.api("/users/1")).send().await.unwrap();
    assert!(res.status().is_server_error(), "a query fails as /readyz said: {}", res.status());
    crate::support::db::execute(&server.database_url, &rename("users_away", "users")).await;
    assert_eq!(http.get(server.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
}

/// A proxy's request id is kept only when the proxy is trusted, and only
/// if it is one that cannot forge a log line; every answer carries one.
#[tokio::test]
async fn request_ids_are_returned_and_a_trusted_proxys_is_kept() {
    let id_of = |res: &reqwest::Response| res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let direct = TestServer::start().await;
    let res =
        direct.anonymous().get(direct.api("/status")).header("x-request-id", "from-the-client").send().await.unwrap();
    let generated = id_of(&res);
    assert!(generated.len() == 16 && generated != "from-the-client", "{generated}");
    let again = id_of(&direct.anonymous().get(direct.api("/status")).send().await.unwrap());
    assert_ne!(generated, again, "each request has its own id");

    let proxied = TestServer::start_with(|a| a.client_ip_header = Some("x-forwarded-for".parse().unwrap())).await;
    let ask = |id: &'static str| proxied.anonymous().get(proxied.api("/status")).header("x-request-id", id).send();
    assert_eq!(id_of(&ask("proxy-4f2a:9").await.unwrap()), "proxy-4f2a:9");
    for forged in ["two words", "quote\"d", &"x".repeat(200)] {
        let forged: &'static str = Box::leak(forged.to_owned().into_boxed_str());
        let got = id_of(&ask(forged).await.unwrap());
        assert_ne!(got, forged);
        assert_eq!(got.len(), 16);
    }
}

/// Settings read from `--config`: every key a flag's name, overridden by
/// the environment and then the command line; the effective settings are
/// printed with the database password masked.
#[tokio::test]
async fn a_config_file_is_overridden_by_environment_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tachi-auth.toml");
    std::fs::write(
        &file,
        "site-name = \"FromFile\"\ncode-lifetime = 600\nclient-cap = 3\n\
         database-url = \"postgres://tachi:hunter2-hunter2@db.internal:5432/tachi\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let out = run(
        &["serve", "--config", f, "--code-lifetime", "700", "--print-config"],
        &[("TACHI_AUTH_SITE_NAME", "FromEnv")],
        None,
    )
    .await;
    assert!(out.success, "{}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let line =
        |key: &str| *lines.iter().find(|l| l.starts_with(&format!("{key} ="))).unwrap_or_else(|| panic!("{key}"));
    assert_eq!(line("site-name"), "site-name = \"FromEnv\"  # environment");
    assert_eq!(line("code-lifetime"), "code-lifetime = 700  # command line");
    assert_eq!(line("client-cap"), "client-cap = 3  # config file");
    assert_eq!(line("session-lifetime"), "session-lifetime = 2592000  # default");
    assert!(line("database-url").contains("postgres://tachi:********@db.internal:5432/tachi"));
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);

    // The printed settings are themselves a valid config file.
    let printed = dir.path().join("printed.toml");
    std::fs::write(&printed, &out.stdout).unwrap();
    let check = run(&["config", "check", printed.to_str().unwrap()], &[], None).await;
    assert!(check.success, "{}", check.stderr);
}

/// A server started from a file uses it (the site name is in the login page).
#[tokio::test]
async fn the_server_runs_with_its_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tachi-auth.toml");
    std::fs::write(&file, "site-name = \"Kamaitachi\"\nlog-format = \"json\"\n").unwrap();
    let mut server =
        RunningBinary::start_with(&["--config", file.to_str().unwrap()], "info", Some(TestDatabase::create().await))
            .await;
    let page = reqwest::get(server.url("/login")).await.unwrap().text().await.unwrap();
    assert!(page.contains("Kamaitachi"), "{page}");
    server.terminate(Duration::from_secs(30)).await.expect("it stops");
    let log = server.stdout().await;
    assert!(log.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()), "JSON lines, as the file said:\n{log}");
}

/// Mistakes in a file are named with the file, the key and the reason.
#[tokio::test]
async fn config_file_mistakes_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let cases = [
        (write("unknown.toml", "code-lifetime = 60\ncode-lifetme = 60\n"), vec!["unknown.toml", "code-lifetme"]),
        (write("range.toml", "code-lifetime = 0\n"), vec!["range.toml", "--code-lifetime", "1..=86400"]),
        (
            write("device.toml", "device-code-lifetime = 7200\n"),
            vec!["device.toml", "--device-code-lifetime", "1..=3600"],
        ),
        (write("url.toml", "public-url = \"javascript:alert(1)\"\n"), vec!["url.toml", "--public-url"]),
        (write("sqlite.toml", "database-url = \"sqlite:\"\n"), vec!["sqlite.toml", "names no file"]),
        (write("type.toml", "listen = [1, 2]\n"), vec!["type.toml", "listen"]),
        (write("syntax.toml", "listen = \n"), vec!["syntax.toml", "not valid TOML"]),
        (write("flag.toml", "print-config = true\n"), vec!["flag.toml", "print-config"]),
    ];
    for (path, expected) in &cases {
        for args in [vec!["config", "check", path.as_str()], vec!["serve", "--config", path.as_str()]] {
            let out = run(&args, &[], None).await;
            assert!(!out.success, "{args:?} accepted");
            for e in expected {
                assert!(out.stderr.contains(e), "{args:?}: lacks {e:?}:\n{}", out.stderr);
            }
        }
    }
    // A bad value in the file is refused even where a flag overrides it.
    let out = run(&["serve", "--config", &cases[1].0, "--code-lifetime", "60", "--print-config"], &[], None).await;
    assert!(!out.success && out.stderr.contains("range.toml"), "{}", out.stderr);
    let missing = dir.path().join("missing.toml");
    let out = run(&["config", "check", missing.to_str().unwrap()], &[], None).await;
    assert!(!out.success && out.stderr.contains("missing.toml") && out.stderr.contains("cannot read"));
    let good = write("good.toml", "listen = \"127.0.0.1:9999\"\ncode-lifetime = 120\n");
    let out = run(&["config", "check", &good], &[], None).await;
    assert!(out.success && out.stdout.contains("valid (2 settings)"), "{}{}", out.stdout, out.stderr);
}

/// The JSON log of a full flow: one object per line; the start line names
/// the database, migrations and URLs; each request is one line with the id
/// its answer carried; the shutdown says what it did.
#[tokio::test]
async fn json_logs_carry_request_ids_and_the_start_and_stop() {
    let mut binary =
        RunningBinary::start_with(&["--log-format", "json"], "info", Some(TestDatabase::create().await)).await;
    let server = binary.helpers();
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let key = server.authorize(&player, &client).await;
    let res = server.with_key(Method::GET, "/status", &key).send().await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    expect_ok(res).await;
    binary.terminate(Duration::from_secs(30)).await.expect("it stops");
    let log = binary.stdout().await;
    let lines: Vec<Value> =
        log.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}"))).collect();
    for line in &lines {
        for field in ["time", "level", "target", "message"] {
            assert!(line[field].is_string(), "{field} missing: {line}");
        }
    }
    let start = lines.iter().find(|l| l["message"] == "tachi-auth is serving").expect("a start line");
    let database = start["database"].as_str().unwrap();
    if binary.database_url.starts_with("sqlite") {
        assert!(database.contains(binary.database_url.trim_start_matches("sqlite://")), "{start}");
    } else {
        assert!(database.starts_with("PostgreSQL database tachi_test_"), "{start}");
    }
    assert!(start["migrations"].as_u64().unwrap() >= 8 && start["migrations_applied_now"] == start["migrations"]);
    assert_eq!(start["listen"], binary.addr.to_string());
    assert_eq!(start["public_url"], format!("{}/", binary.base));
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(requests.len() >= 6, "{log}");
    for r in &requests {
        assert!(r["request_id"].as_str().is_some_and(|i| i.len() == 16), "{r}");
        assert!(r["route"].as_str().unwrap().starts_with('/') && r["status"].is_u64() && r["latency_ms"].is_number());
        assert_eq!(r["level"], "INFO");
    }
    let status = requests.iter().find(|r| r["request_id"] == id.as_str()).expect("the request's line has its id");
    assert_eq!(status["route"], "/api/v1/status");
    assert_eq!(status["method"], "GET");
    assert_eq!(status["status"], 200);
    let token = requests.iter().find(|r| r["route"] == "/api/v1/oauth/token").expect("the exchange was logged");
    assert_eq!(token["method"], "POST");
    let route_of_user = requests.iter().any(|r| r["route"] == "/api/v1/users/{user_id}/api-tokens/create")
        || requests.iter().any(|r| r["route"] == "/api/v1/clients/create");
    assert!(route_of_user, "routes are templates");
    assert!(!log.contains(&key), "no key in the log");
    for message in
        ["shutting down: no longer accepting connections; letting requests in progress finish", "database closed"]
    {
        assert!(lines.iter().any(|l| l["message"] == message), "no {message:?} in:\n{log}");
    }
}

/// The text log (the default) also has one line per request, with its id.
#[tokio::test]
async fn every_request_is_logged_at_info_by_default() {
    let mut binary = RunningBinary::start(&[], "info").await;
    let res = reqwest::get(binary.api("/status")).await.unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    binary.terminate(Duration::from_secs(30)).await.expect("it stops");
    let log = binary.stdout().await;
    let line = log.lines().find(|l| l.contains(&id)).unwrap_or_else(|| panic!("no line with {id}:\n{log}"));
    for part in ["INFO", "method=GET", "route=/api/v1/status", "status=200", "latency_ms="] {
        assert!(line.contains(part), "{part} not in {line}");
    }
    let start = log.lines().find(|l| l.contains("tachi-auth is serving")).unwrap();
    assert!(start.contains("database=SQLite file /") && start.contains("migrations=") && start.contains("public_url="));
}

/// `/metrics` on its own listener, and the counters move with what happens.
#[tokio::test]
async fn metrics_move_with_requests_exchanges_logins_and_keys() {
    let metrics_addr = free_addr();
    let mut binary = RunningBinary::start_with(
        &["--metrics-listen", &metrics_addr.to_string()],
        "warn",
        Some(TestDatabase::create().await),
    )
    .await;
    let scrape = || async move {
        let res = reqwest::get(format!("http://{metrics_addr}/metrics")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    };
    let value = |text: &str, series: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .map_or(0.0, |v| v.parse().unwrap())
    };
    let before = scrape().await;
    assert!(value(&before, "process_resident_memory_bytes") > 1e6, "{before}");
    assert!(value(&before, "process_open_fds") > 3.0);
    assert!(value(&before, "tachi_db_pool_max_connections") >= 1.0);

    let server = binary.helpers();
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let key = server.authorize(&player, &client).await;
    for _ in 0..3 {
        expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
    }
    let bad = server.with_key(Method::GET, "/status", "not-a-key").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNAUTHORIZED);
    let replay = server.exchange(&client, "no-such-code").await;
    assert_eq!(replay.status(), StatusCode::NOT_FOUND);
    let wrong = server.login_with(&server.browser(), "player", "not the password").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    server.login("player").await;
    let personal = player.personal_key(&ALL_PERMISSIONS).await;
    assert!(!personal.is_empty());
    let keys = player.keys().await;
    let key_id = keys.iter().find(|k| k["fromOAuth2Client"].is_null()).unwrap()["id"].as_str().unwrap().to_owned();
    expect_ok(player.delete(&format!("/users/{}/api-tokens/{key_id}", player.id)).await).await;
    let res = player.patch(&format!("/clients/{}", client.id), json!({})).await;
    assert!(res.status().is_client_error() || res.status().is_success());

    let after = scrape().await;
    let moved = |series: &str, by: f64| {
        let (b, a) = (value(&before, series), value(&after, series));
        assert!(a - b >= by, "{series}: {b} -> {a}\n{after}");
    };
    moved(r#"tachi_http_requests_total{method="GET",route="/api/v1/status",status="2xx"}"#, 3.0);
    moved(r#"tachi_http_requests_total{method="GET",route="/api/v1/status",status="4xx"}"#, 1.0);
    moved(r#"tachi_http_requests_total{method="POST",route="/api/v1/oauth/token",status="2xx"}"#, 1.0);
    moved(r#"tachi_http_request_duration_seconds_count{method="GET",route="/api/v1/status"}"#, 4.0);
    moved(r#"tachi_token_exchanges_total{outcome="issued"}"#, 1.0);
    moved(r#"tachi_token_exchanges_total{outcome="invalid_code"}"#, 1.0);
    moved(r#"tachi_bearer_authentications_total{outcome="ok"}"#, 3.0);
    moved(r#"tachi_bearer_authentications_total{outcome="invalid_key"}"#, 1.0);
    moved(r#"tachi_bearer_cache_total{outcome="miss"}"#, 1.0);
    moved(r#"tachi_bearer_cache_total{outcome="hit"}"#, 2.0);
    moved(r#"tachi_logins_total{outcome="ok"}"#, 1.0);
    moved(r#"tachi_logins_total{outcome="wrong_credentials"}"#, 1.0);
    moved(r#"tachi_api_keys_created_total{outcome="personal"}"#, 1.0);
    moved(r#"tachi_api_keys_revoked_total{outcome="by_user"}"#, 1.0);
    moved(r#"tachi_clients_total{outcome="created"}"#, 1.0);
    // The database's side: connections taken from the pool (and how long
    // that took), and the group-commit batches the exchange went through.
    moved("tachi_db_pool_acquire_seconds_count", 1.0);
    moved(r#"tachi_db_write_batch_size_count{kind="token_exchange"}"#, 1.0);
    moved(r#"tachi_db_write_batch_size_sum{kind="token_exchange"}"#, 1.0);
    moved(r#"tachi_db_write_batch_commit_seconds_count{kind="token_exchange"}"#, 1.0);
    moved(r#"tachi_db_write_batch_size_count{kind="approval"}"#, 1.0);
    assert!(after.contains(r#"tachi_db_write_batch_size_bucket{kind="token_exchange",le="1"}"#), "{after}");
    assert!(!after.contains(&key) && !after.contains(&client.secret), "no secret in the metrics");

    // The key revoked above reached the database's change notifications
    // (PostgreSQL's NOTIFY, or the SQLite counter another process bumps):
    // received, as another instance's or an operator's change would be.
    let source = if binary.database_url.starts_with("sqlite") { "sqlite" } else { "postgres" };
    let series = format!(r#"tachi_credential_change_notifications_total{{source="{source}"}}"#);
    let received = async {
        loop {
            if value(&scrape().await, &series) >= 1.0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), received).await.expect("a credential change is received");
    let seen = value(&scrape().await, &series);
    let ban = run(&["user", "player", "--banned", "true", "--database-url", &binary.database_url], &[], None).await;
    assert!(ban.success, "{}", ban.stderr);
    let more = async {
        while value(&scrape().await, &series) <= seen {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), more).await.expect("an operator's ban is received");

    // Not on the public listener.
    let public = reqwest::get(binary.url("/metrics")).await.unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);
    binary.terminate(Duration::from_secs(30)).await.expect("it stops");
}

/// `tachi-auth backup` copies a SQLite database while the server writes
/// (token exchanges running), checks the copy, and a server started on the
/// copy knows every key that worked before the backup began.
#[tokio::test]
async fn a_backup_taken_under_load_keeps_every_key() {
    let mut binary = RunningBinary::start(&[], "warn").await;
    let server = binary.helpers();
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(server.authorize(&player, &client).await);
    }
    for key in &keys {
        expect_ok(server.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let exchanges = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let load = {
        let (addr, url, client) = (binary.addr, binary.database_url.clone(), client.clone());
        let (stop, exchanges) = (stop.clone(), exchanges.clone());
        tokio::spawn(async move {
            let server = TestServer::speaking_to(addr, &url);
            let player = server.login("player").await;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                server.authorize(&player, &client).await;
                exchanges.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    // The backup starts once exchanges are under way (a loaded machine
    // may take a while to log the player in).
    let running = async {
        while exchanges.load(std::sync::atomic::Ordering::Relaxed) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), running).await.expect("the exchanges run");
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let to = copy.to_str().unwrap();
    let out = run(&["backup", "--to", to, "--database-url", &binary.database_url], &[], None).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.unwrap();
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("integrity check ok") && out.stdout.contains(to), "{}", out.stdout);

    let again = run(&["backup", "--to", to, "--database-url", &binary.database_url], &[], None).await;
    assert!(!again.success && again.stderr.contains("never overwrites"), "{}", again.stderr);
    binary.terminate(Duration::from_secs(30)).await.expect("it stops");

    let restored = RunningBinary::start_with(&[], "warn", Some(TestDatabase::at(format!("sqlite://{to}")))).await;
    let restored_server = restored.helpers();
    for key in &keys {
        expect_ok(restored_server.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    }
}

/// `tachi-auth restore`: refused while a server has the database open;
/// once it is stopped, the backup (taken while exchanges ran) replaces the
/// database, checked, the old one kept aside; a server started on it knows
/// every key answered before the backup began, and none issued after it.
#[tokio::test]
async fn a_backup_taken_under_load_is_restored_into_a_stopped_server() {
    let mut binary = RunningBinary::start(&[], "warn").await;
    let server = binary.helpers();
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        let key = server.authorize(&player, &client).await;
        expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
        keys.push(key);
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let exchanges = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let load = {
        let (addr, url, client) = (binary.addr, binary.database_url.clone(), client.clone());
        let (stop, exchanges) = (stop.clone(), exchanges.clone());
        tokio::spawn(async move {
            let server = TestServer::speaking_to(addr, &url);
            let player = server.login("player").await;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                server.authorize(&player, &client).await;
                exchanges.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        })
    };
    let running = async {
        while exchanges.load(std::sync::atomic::Ordering::Relaxed) < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(60), running).await.expect("the exchanges run");
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup.db");
    let backup = backup.to_str().unwrap();
    let out = run(&["backup", "--to", backup, "--database-url", &binary.database_url], &[], None).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    load.await.unwrap();
    assert!(out.success, "{}", out.stderr);
    let after_the_backup = server.authorize(&player, &client).await;

    let restore = |url: String, from: String| async move {
        run(&["restore", "--from", &from, "--database-url", &url], &[], None).await
    };
    let busy = restore(binary.database_url.clone(), backup.to_owned()).await;
    assert!(!busy.success, "restored under a running server:\n{}", busy.stdout);
    assert!(busy.stderr.contains("has the database open") && busy.stderr.contains("stop it"), "{}", busy.stderr);
    expect_ok(server.with_key(Method::GET, "/status", &after_the_backup).send().await.unwrap()).await;

    binary.terminate(Duration::from_secs(30)).await.expect("it stops");
    let out = restore(binary.database_url.clone(), backup.to_owned()).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("integrity check ok") && out.stdout.contains("kept as"), "{}", out.stdout);
    let database = binary.database_url.trim_start_matches("sqlite://");
    let kept = out.stdout.lines().find_map(|l| l.strip_prefix("the database it replaced is kept as ")).unwrap();
    assert!(kept.starts_with(database) && std::path::Path::new(kept).is_file(), "{kept}");

    let mut restored =
        RunningBinary::start_with(&[], "warn", Some(TestDatabase::at(binary.database_url.clone()))).await;
    let restored_server = restored.helpers();
    for key in &keys {
        expect_ok(restored_server.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    }
    let res = restored_server.with_key(Method::GET, "/status", &after_the_backup).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "a key issued after the backup is not in it");
    restored.terminate(Duration::from_secs(30)).await.expect("it stops");

    // A backup of a newer schema, or a file that is not one, is refused
    // and the database left as it was.
    let newer = dir.path().join("newer.db");
    std::fs::copy(backup, &newer).unwrap();
    let newer_url = format!("sqlite://{}", newer.display());
    crate::support::db::execute(
        &newer_url,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from a later version', TRUE, x'00', 0)",
    )
    .await;
    let before = std::fs::read(database).unwrap();
    let out = restore(binary.database_url.clone(), newer.display().to_string()).await;
    let refused = !out.success && out.stderr.contains("newer tachi-auth") && out.stderr.contains("99990101000000");
    assert!(refused, "{}", out.stderr);
    let garbage = dir.path().join("garbage.db");
    std::fs::write(&garbage, b"not a database at all, not even close to one".repeat(100)).unwrap();
    let out = restore(binary.database_url.clone(), garbage.display().to_string()).await;
    assert!(!out.success && out.stderr.contains("not a database"), "{}", out.stderr);
    assert_eq!(std::fs::read(database).unwrap(), before, "a refused restore changed the database");
}

/// SIGTERM during a flood of token exchanges: the process exits 0, every
/// request it had accepted is answered in full (each on a connection of its
/// own, so none is sent on a connection the server is closing), and every
/// key it answered is in the database a restarted server opens.
#[tokio::test]
async fn sigterm_during_a_flood_of_exchanges_loses_no_answered_key() {
    let mut binary =
        RunningBinary::start_with(&["--shutdown-grace", "20"], "warn", Some(TestDatabase::create().await)).await;
    let server = binary.helpers();
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let mut codes = Vec::new();
    for _ in 0..300 {
        codes.push(player.approve(&client).await);
    }
    let codes = std::sync::Arc::new(std::sync::Mutex::new(codes));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let fresh_connections = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();

    #[derive(Debug)]
    enum Outcome {
        Key(String, std::time::Instant),
        Refused,
        Broken(String),
    }
    let mut workers = Vec::new();
    for _ in 0..12 {
        let (codes, answered, http) = (codes.clone(), answered.clone(), fresh_connections.clone());
        let (url, body) = (server.api("/oauth/token"), server.exchange_body(&client, ""));
        workers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            loop {
                let Some(code) = codes.lock().unwrap().pop() else { break };
                let mut body = body.clone();
                body["code"] = code.into();
                let sent = http.post(&url).header("connection", "close").json(&body).send().await;
                let outcome = match sent {
                    Ok(res) => {
                        let status = res.status();
                        match res.json::<Value>().await {
                            Ok(v) if status == StatusCode::OK && v["body"]["token"].is_string() => {
                                answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                Outcome::Key(v["body"]["token"].as_str().unwrap().to_owned(), std::time::Instant::now())
                            }
                            other => Outcome::Broken(format!("{status}: {other:?}")),
                        }
                    }
                    Err(e) if e.is_connect() => Outcome::Refused,
                    Err(e) => Outcome::Broken(format!("{e:?}")),
                };
                let refused = matches!(outcome, Outcome::Refused);
                outcomes.push(outcome);
                if refused {
                    break;
                }
            }
            outcomes
        }));
    }
    let flowing = async {
        while answered.load(std::sync::atomic::Ordering::Relaxed) < 60 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), flowing).await.is_err() {
        codes.lock().unwrap().clear();
        let outcomes: Vec<Outcome> =
            futures::future::join_all(workers).await.into_iter().flat_map(Result::unwrap).collect();
        panic!("the exchanges do not flow: {:?}", &outcomes[..outcomes.len().min(5)]);
    }
    let signalled = std::time::Instant::now();
    binary.terminate(Duration::from_secs(30)).await.expect("it stops, with status 0");
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await.unwrap());
    }
    let broken: Vec<&String> =
        outcomes.iter().filter_map(|o| if let Outcome::Broken(e) = o { Some(e) } else { None }).collect();
    assert!(broken.is_empty(), "accepted requests without a full answer: {broken:?}");
    let keys: Vec<&String> =
        outcomes.iter().filter_map(|o| if let Outcome::Key(k, _) = o { Some(k) } else { None }).collect();
    let late = outcomes.iter().filter(|o| matches!(o, Outcome::Key(_, at) if *at > signalled)).count();
    println!("{} keys answered, {late} of them after SIGTERM", keys.len());
    assert!(late > 0, "no exchange was in flight at SIGTERM: the test proves nothing");
    assert!(codes.lock().unwrap().len() + keys.len() < 300, "exchanges were refused once it stopped");

    let restarted = RunningBinary::start_with(&[], "warn", Some(TestDatabase::at(binary.database_url.clone()))).await;
    let again = restarted.helpers();
    for key in keys {
        expect_ok(again.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    }
}

/// PostgreSQL is backed up with pg_dump: the command is printed, without
/// the password, and no backup is claimed.
#[tokio::test]
async fn a_postgres_backup_prints_the_pg_dump_command_without_the_password() {
    let url = "postgres://tachi:s3cret-pa55word@db.internal:6543/tachi_prod";
    let out = run(&["backup", "--to", "/backups/tachi.dump", "--database-url", url], &[], None).await;
    assert!(!out.success);
    assert_eq!(
        out.stdout.trim(),
        "pg_dump --format=custom --host=db.internal --port=6543 --username=tachi --dbname=tachi_prod \
         --file=/backups/tachi.dump"
    );
    assert!(out.stderr.contains("pg_dump") && out.stderr.contains("PGPASSWORD"), "{}", out.stderr);
    assert!(!format!("{}{}", out.stdout, out.stderr).contains("s3cret"), "the password is shown");

    let out = run(&["restore", "--from", "/backups/tachi.dump", "--database-url", url], &[], None).await;
    assert!(!out.success);
    assert_eq!(
        out.stdout.trim(),
        "pg_restore --clean --if-exists --no-owner --single-transaction --host=db.internal --port=6543 \
         --username=tachi --dbname=tachi_prod /backups/tachi.dump"
    );
    assert!(out.stderr.contains("stop every server") && out.stderr.contains("PGPASSWORD"), "{}", out.stderr);
    assert!(!format!("{}{}", out.stdout, out.stderr).contains("s3cret"), "the password is shown");
}

/// The example config file of `deploy/` is one the server accepts.
#[tokio::test]
async fn the_deploy_example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/tachi-auth.toml");
    let out = run(&["config", "check", example], &[], None).await;
    assert!(out.success, "{}", out.stderr);
}
