//! The operator's account commands, run with the real binary against the
//! test server's database: `tachi-auth user NAME --reset-password`,
//! `--end-sessions` and `--revoke-keys`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::binary::run_command;
use crate::support::{PASSWORD, TestServer, expect_err, expect_ok};

#[tokio::test]
async fn the_operator_hands_out_a_reset_link_ends_sessions_and_revokes_keys() {
    let server = TestServer::start().await;
    let user = server.register("locked_out").await;
    let key1 = user.personal_key(&["customise_profile"]).await;
    let key2 = user.personal_key(&["submit_score"]).await;
    let db = server.database_url.clone();

    let out = run_command(&["user", "Locked_Out", "--database-url", &db, "--revoke-keys"]).await;
    assert!(out.success, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("revoked 2 API key(s)"), "{}", out.stdout);
    server.key_answers(&key1, StatusCode::UNAUTHORIZED).await;
    server.key_answers(&key2, StatusCode::UNAUTHORIZED).await;

    let out = run_command(&["user", "locked_out", "--database-url", &db, "--end-sessions"]).await;
    assert!(out.success, "{}", out.stderr);
    assert!(out.stdout.contains("ended 1 session(s)"), "{}", out.stdout);
    crate::support::within_the_bound("the session ending", || async { user.whoami().await == Value::Null }).await;

    let out =
        run_command(&["user", "locked_out", "--database-url", &db, "--reset-password", "--public-url", &server.base])
            .await;
    assert!(out.success, "{}", out.stderr);
    let link = out.stdout.lines().find(|l| l.contains("/reset-password?code=")).expect("a link").trim().to_owned();
    assert!(link.starts_with(&format!("{}/reset-password?code=", server.base)), "{link}");
    let code = link.rsplit("code=").next().unwrap();
    assert!(!out.stderr.contains(code), "the code is printed once, on stdout");
    let res = server
        .anonymous()
        .post(server.api("/auth/reset-password"))
        .json(&json!({ "code": code, "!password": "chosen by the user" }))
        .send()
        .await
        .unwrap();
    expect_ok(res).await;
    expect_ok(server.login_with(&server.browser(), "locked_out", "chosen by the user").await).await;
    expect_err(server.login_with(&server.browser(), "locked_out", PASSWORD).await, StatusCode::UNAUTHORIZED).await;

    let out = run_command(&["user", "nobody_at_all", "--database-url", &db, "--end-sessions"]).await;
    assert!(!out.success && out.stderr.contains("no user"), "{}", out.stderr);
    let _ = server.with_key(Method::GET, "/status", &key1);
}
