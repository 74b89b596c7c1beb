//! E-mail verification: the mail sent at registration, its link, sending
//! it again, the dashboard's banner, and `--require-verified-email`.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::mail::{Mailbox, SmtpSink};
use crate::support::{REDIRECT, TestServer, expect_err, expect_ok};

const VERIFY: &str = "/verify-email";

async fn verify(server: &TestServer, code: &str) -> reqwest::Response {
    server.anonymous().post(server.api("/auth/verify-email")).json(&json!({ "code": code })).send().await.unwrap()
}

#[tokio::test]
async fn registration_mails_a_link_that_verifies_the_address_once() {
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let server = TestServer::start_with(|a| a.accounts.smtp_url = Some(sink.url())).await;
    let user = server.register("newcomer").await;

    let dashboard = user.http.get(server.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(dashboard.contains("id=\"unverified\""), "the banner shows while unverified");

    let mail = mailbox.nth_link("newcomer@example.org", VERIFY, 0).await;
    assert!(mail.subject.contains("Tachi"), "{mail:?}");
    let code = mail.code_for(VERIFY);
    assert_eq!(mail.link_for(VERIFY), format!("{}{VERIFY}?code={code}", server.base));
    assert!(mail.html.contains(&code));

    // Opening the link only shows a button: a mail scanner cannot use the code up.
    let page = server.anonymous().get(mail.link_for(VERIFY)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    expect_ok(verify(&server, &code).await).await;
    let d = expect_err(verify(&server, &code).await, StatusCode::NOT_FOUND).await;
    assert_eq!(d, "Invalid Verification Code.");
    expect_err(verify(&server, "not-a-code").await, StatusCode::NOT_FOUND).await;

    let dashboard = user.http.get(server.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(!dashboard.contains("id=\"unverified\""), "the banner is gone");
    // Verified: asking again sends nothing.
    expect_ok(user.post("/auth/resend-verify-email", json!({})).await).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(mailbox.with_link("newcomer@example.org", VERIFY).len(), 1);
}

#[tokio::test]
async fn a_new_verification_mail_replaces_the_old_link_and_is_rate_limited() {
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let server = TestServer::start_with(|a| a.accounts.smtp_url = Some(sink.url())).await;
    let user = server.register("resender").await;
    let first = mailbox.nth_link("resender@example.org", VERIFY, 0).await.code_for(VERIFY);

    expect_ok(user.post("/auth/resend-verify-email", json!({})).await).await;
    let second = mailbox.nth_link("resender@example.org", VERIFY, 1).await.code_for(VERIFY);
    expect_err(verify(&server, &first).await, StatusCode::NOT_FOUND).await;

    // Asking too often answers the same, and sends nothing more: the
    // registration's mail, then three per user per window.
    for _ in 0..5 {
        expect_ok(user.post("/auth/resend-verify-email", json!({})).await).await;
    }
    mailbox.nth_link("resender@example.org", VERIFY, 3).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(mailbox.with_link("resender@example.org", VERIFY).len(), 4, "resending is limited per user");
    // A guest has no address to verify.
    let res = server.anonymous().post(server.api("/auth/resend-verify-email")).send().await.unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;
    let _ = second;
}

#[tokio::test]
async fn require_verified_email_keeps_unverified_users_from_creating_clients() {
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let server = TestServer::start_with(|a| {
        a.accounts.smtp_url = Some(sink.url());
        a.accounts.require_verified_email = true;
    })
    .await;
    let user = server.register("author").await;
    let body = json!({ "name": "My Integration", "redirectUri": REDIRECT, "permissions": ["submit_score"] });
    let d = expect_err(user.post("/clients/create", body.clone()).await, StatusCode::FORBIDDEN).await;
    assert!(d.contains("verified e-mail"), "{d}");
    // Everything else works unverified.
    user.personal_key(&["customise_profile"]).await;

    let code = mailbox.nth_link("author@example.org", VERIFY, 0).await.code_for(VERIFY);
    expect_ok(verify(&server, &code).await).await;
    expect_ok(user.post("/clients/create", body).await).await;
}

#[tokio::test]
async fn without_mail_there_is_no_banner_and_no_verification_mail() {
    let server = TestServer::start().await;
    let user = server.register("offline").await;
    let dashboard = user.http.get(server.url("/")).send().await.unwrap().text().await.unwrap();
    assert!(!dashboard.contains("id=\"unverified\""));
    expect_err(user.post("/auth/resend-verify-email", json!({})).await, StatusCode::NOT_IMPLEMENTED).await;
    let page = server.anonymous().get(server.url("/forgot-password")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("operator"), "the page says resets need the operator: {page}");
}
