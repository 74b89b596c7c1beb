//! The OpenAPI description, `GET /api/v1/openapi.json`, checked against a
//! live server by Schemathesis: every operation, with generated valid and
//! invalid requests, once as a logged-in session and once as an API key. No
//! answer may be a 5xx, and every answer's status, content type, headers and
//! body must be the ones the description gives. (That every route is
//! described, and nothing else, is a unit test beside the file:
//! `http::api::openapi::tests`.) `scripts/test` installs Schemathesis.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::mail::{Mailbox, SmtpSink};
use crate::support::{ALL_PERMISSIONS, PASSWORD, SESSION_COOKIE, TestServer, User, expect_ok, set_cookie};

const CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/schemathesis/schemathesis.toml");

/// Both runs together stay well inside this on two cores.
const RUN_LIMIT: Duration = Duration::from_secs(600);

async fn description(server: &TestServer) -> Value {
    let res = server.anonymous().get(server.api("/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/json");
    res.json().await.unwrap()
}

#[tokio::test]
async fn the_description_is_served_and_names_this_sites_session_cookie() {
    let server = TestServer::start_with(|a| a.site_name = "Kamaitachi".into()).await;
    let doc = description(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["components"]["securitySchemes"]["session"]["name"], "Kamaitachi_SESSION");
    assert_eq!(doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    let paths = doc["paths"].as_object().unwrap();
    for path in ["/api/v1/oauth/token", "/oauth/token", "/oauth/authorize", "/.well-known/oauth-authorization-server"] {
        assert!(paths.contains_key(path), "{path} is not described");
    }
    let form = &paths["/oauth/token"]["post"]["requestBody"]["content"];
    assert!(form.get("application/x-www-form-urlencoded").is_some(), "{form}");
}

/// A session cookie of `user`'s, from a login of its own.
async fn session_of(server: &TestServer, user: &User) -> String {
    let res = server.login_with(&server.anonymous(), &user.username, PASSWORD).await;
    let (value, _) = set_cookie(&res, SESSION_COOKIE).expect("a session cookie");
    expect_ok(res).await;
    format!("{SESSION_COOKIE}={value}")
}

#[tokio::test]
async fn schemathesis_finds_no_fault_as_a_session_or_an_api_key() {
    let schemathesis = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "schemathesis".into());
    let probe = tokio::process::Command::new(&schemathesis).arg("--version").output().await;
    assert!(
        probe.as_ref().is_ok_and(|o| o.status.success()),
        "{schemathesis} is needed: run ./scripts/test, or pip install the version scripts/lib/setup.sh pins"
    );
    // With mail, so that the mail routes answer as they do in production.
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let server = TestServer::start_with(|a| a.accounts.smtp_url = Some(sink.url())).await;
    // Read from a file: loaded from its URL, Schemathesis would leave out
    // the operation that serves it.
    let doc = description(&server).await;
    let operations: usize =
        doc["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();

    let user = server.register("fuzzer").await;
    let key = user.personal_key(&ALL_PERMISSIONS).await;
    let doomed_key = expect_ok(user.request_key(serde_json::json!({ "permissions": ["submit_score"] })).await).await;
    let client = server.client_of(&user, &["submit_score", "customise_profile"]).await;
    let doomed_client = server.client_of(&user, &["submit_score"]).await;

    let identities = [
        ("a session", String::new(), session_of(&server, &user).await),
        ("an API key", format!("Bearer {key}"), String::new()),
    ];
    let started = std::time::Instant::now();
    for (who, authorization, cookie) in identities {
        let scratch = tempfile::tempdir().unwrap();
        let file = scratch.path().join("openapi.json");
        std::fs::write(&file, doc.to_string()).unwrap();
        let run = tokio::process::Command::new(&schemathesis)
            .args(["--config-file", CONFIG, "run", "--no-color"])
            .arg(&file)
            .args(["--url", &server.base])
            .current_dir(scratch.path())
            .env("TACHI_AUTHORIZATION", authorization)
            .env("TACHI_COOKIE", cookie)
            .env("TACHI_LOGOUT_COOKIE", session_of(&server, &user).await)
            .env("TACHI_USER_ID", user.id.to_string())
            .env("TACHI_CLIENT_ID", &client.id)
            .env("TACHI_DOOMED_CLIENT_ID", &doomed_client.id)
            .env("TACHI_DOOMED_KEY_ID", doomed_key["id"].as_str().unwrap())
            .kill_on_drop(true)
            .output();
        let out = tokio::time::timeout(RUN_LIMIT, run).await.expect("schemathesis finishes in time").unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "schemathesis found faults as {who}:\n{stdout}\n{stderr}");
        let tested = format!("Tested: {operations}");
        assert!(stdout.lines().any(|l| l.trim() == tested), "not every operation was tested as {who}:\n{stdout}");
        let summary = stdout.rsplit_once("SUMMARY").map_or(&*stdout, |(_, s)| s);
        eprintln!("schemathesis as {who}:{summary}");
    }
    eprintln!("both runs took {:?}", started.elapsed());
    sink.stop().await;
}
