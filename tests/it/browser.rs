//! The pages in a real browser (headless Chromium over WebDriver): the
//! seeds' flow clicked through end to end, declining, the Client File Flow's
//! download, revoking from the dashboard, error pages, and phone width.
//! Every page visited is also saved as a screenshot in artifacts/screenshots/.

use fantoccini::key::Key;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::browser::{Browser, Callback, PHONE};
use crate::support::{PASSWORD, TestServer, User, expect_err, expect_ok};

const SITE: &str = "Bokutachi";

async fn server() -> TestServer {
    TestServer::start_with(|a| a.site_name = SITE.into()).await
}

/// Logs in on the login page the browser is on (or is sent to).
async fn log_in(b: &Browser, username: &str) {
    b.fill("#username", username).await;
    b.fill("#password", PASSWORD).await;
    b.click("form[action='/login'] button[type=submit]").await;
}

/// Opens the login page and logs in; ends on the dashboard.
async fn log_in_at(b: &Browser, server: &TestServer, username: &str) {
    b.goto(&server.url("/login")).await;
    log_in(b, username).await;
    b.wait_url("the dashboard", |u| u.path() == "/").await;
    b.find("#keys").await;
}

/// The path and query of a URL, as the server saw it.
fn local(u: &url::Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

async fn whoami(server: &TestServer, key: &str) -> reqwest::Response {
    server.with_key(Method::GET, "/status", key).send().await.unwrap()
}

#[tokio::test]
async fn register_create_a_client_then_another_user_approves_it_and_the_key_works() {
    let server = server().await;
    let callback = Callback::start().await;

    // User A, an integration author, registers and creates a client on the dashboard.
    let a = Browser::start().await;
    a.goto(&server.url("/register")).await;
    a.screenshot("register").await;
    a.fill("#username", "authorA").await;
    a.fill("#email", "a@example.org").await;
    a.fill("#password", PASSWORD).await;
    a.click("form[action='/register'] button[type=submit]").await;
    a.wait_url("the dashboard", |u| u.path() == "/").await;
    assert!(a.text(".top").await.contains("authorA"));
    assert!(!a.find("#new-name").await.is_displayed().await.unwrap(), "the form opens on demand");
    a.click("details.create summary").await;
    a.fill("#new-name", "Epic Games").await;
    a.fill("#new-redirect", &callback.url).await;
    a.click("input[name=permissions][value=customise_profile]").await;
    a.click("input[name=permissions][value=submit_score]").await;
    a.screenshot("dashboard-empty").await;
    a.click("#create-client button[type=submit]").await;

    // The secret is shown once, with a copy button and a warning.
    let secret_field = a.find("#client-secret").await;
    let secret = secret_field.prop("value").await.unwrap().unwrap();
    let client_id = a.text("#client-id").await;
    assert!(secret.starts_with("CS") && client_id.starts_with("CI"), "{client_id} {secret}");
    assert!(a.text(".warning").await.contains("only"));
    a.click("button[data-copy=client-secret]").await;
    a.find_with_text("button[data-copy=client-secret]", "Copied").await;
    a.screenshot("client-secret").await;
    a.click("a.done").await;
    a.wait_url("the dashboard", |u| u.path() == "/").await;
    let card = a.find_with_text("article.client", "Epic Games").await;
    let listed = card.text().await.unwrap();
    assert!(listed.contains(&client_id), "{listed}");
    assert!(!a.client.source().await.unwrap().contains(&secret), "the secret is shown only once");
    a.screenshot("dashboard-author").await;
    a.close().await;

    // User B, a player, follows the integration's link and must log in first.
    server.register("playerB").await;
    let b = Browser::start().await;
    let link = format!("/oauth/request-auth?clientID={client_id}&context=from-the-hook%202");
    b.goto(&server.url(&link)).await;
    let login = b.wait_url("the login page", |u| u.path() == "/login").await;
    let next: String = login.query_pairs().find(|(k, _)| k == "next").unwrap().1.into_owned();
    assert_eq!(next, link, "the login page knows where to come back to");
    assert!(b.client.title().await.unwrap().ends_with(SITE));
    b.screenshot("login").await;
    log_in(&b, "playerB").await;

    // Back on exactly the same consent request, which says who asks for what.
    let consent = b.wait_url("the consent page", |u| u.path() == "/oauth/request-auth").await;
    assert_eq!(local(&consent), link);
    let text = b.text("main").await;
    for expected in [
        "Epic Games",
        "authorA",
        "Change your profile's about text and status",
        "Submit scores to your profile",
        "127.0.0.1",
    ] {
        assert!(text.contains(expected), "the consent page lacks {expected:?}:\n{text}");
    }
    b.screenshot("consent").await;
    b.click("button[value=approve]").await;

    // The browser arrives at the integration with a code and the context.
    let arrived = b.wait_url("the redirect URI", |u| u.as_str().starts_with(&callback.url)).await;
    b.find("#linked").await;
    let visit = callback.only_visit();
    assert_eq!(visit.get("context").map(String::as_str), Some("from-the-hook 2"), "{arrived}");
    let code = visit.get("code").expect("a code").clone();

    // The integration's back end exchanges it for a key, and the key works.
    let client =
        crate::support::ApiClient { id: client_id.clone(), secret, doc: json!({ "redirectUri": callback.url }) };
    let doc = expect_ok(server.exchange(&client, &code).await).await;
    let key = doc["token"].as_str().unwrap();
    assert_eq!(doc["identifier"], "Epic Games Token");
    let status = expect_ok(whoami(&server, key).await).await;
    let b_id = status["whoami"].as_i64().unwrap();
    let res = server
        .with_key(Method::PATCH, &format!("/users/{b_id}"), key)
        .json(&json!({ "about": "Linked with Epic Games" }))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_ok(res).await["about"], "Linked with Epic Games");

    // B's dashboard lists the app that holds the key.
    b.goto(&server.url("/")).await;
    let row = b.find_with_text("#keys li.key", "Epic Games Token").await;
    assert!(row.text().await.unwrap().contains("Epic Games"));
    b.screenshot("dashboard-player").await;
    b.close().await;
}

#[tokio::test]
async fn declining_sends_the_user_to_the_dashboard_and_nothing_to_the_client() {
    let server = server().await;
    let callback = Callback::start().await;
    let author = server.register("authorA").await;
    let client = author
        .create_client(json!({ "name": "Epic Games", "redirectUri": callback.url, "permissions": ["customise_score"] }))
        .await;
    server.register("playerB").await;

    let b = Browser::start().await;
    log_in_at(&b, &server, "playerB").await;
    b.goto(&server.url(&format!("/oauth/request-auth?clientID={}", client.id))).await;
    assert!(b.text("main").await.contains("Edit the comments and highlights of your scores"));
    b.click("button[value=decline]").await;
    b.wait_url("the dashboard", |u| u.path() == "/").await;
    let notice = b.find(".notice").await.text().await.unwrap();
    assert!(notice.contains("declined"), "{notice}");
    b.screenshot("dashboard-declined").await;
    assert!(callback.hits().is_empty(), "nothing may reach the client: {:?}", callback.hits());
    // Nothing is left pending to approve behind the user's back.
    let res =
        b_http(&server, "playerB").await.post(server.api("/oauth/create-code")).json(&json!({})).send().await.unwrap();
    assert_ne!(res.status(), StatusCode::OK);
    b.close().await;
}

/// A fresh API session of a user (for calls the browser's cookie would make).
async fn b_http(server: &TestServer, username: &str) -> reqwest::Client {
    let http = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let res = http
        .post(server.api("/auth/login"))
        .json(&json!({ "username": username, "!password": PASSWORD }))
        .send()
        .await
        .unwrap();
    expect_ok(res).await;
    http
}

#[tokio::test]
async fn the_client_file_flow_downloads_the_templated_file_with_a_working_key() {
    let server = server().await;
    let author = server.register("hookAuthor").await;
    let client = author
        .create_client(json!({
            "name": "Score Hook",
            "permissions": ["submit_score"],
            "apiKeyFormat": "{\"url\":\"https://boku.example\",\"token\":\"%%TACHI_KEY%%\",\"note\":\"%%TACHI_KEY%%\"}",
            "apiKeyFilename": "hook-config.json",
        }))
        .await;
    server.register("playerB").await;

    let b = Browser::start().await;
    let path = format!("/client-file-flow/{}", client.id);
    b.goto(&server.url(&path)).await;
    b.wait_url("the login page", |u| u.path() == "/login").await;
    log_in(&b, "playerB").await;
    b.wait_url("the file flow page", |u| u.path() == path).await;
    let text = b.text("main").await;
    assert!(
        text.contains("Score Hook") && text.contains("hookAuthor") && text.contains("Submit scores to your profile"),
        "{text}"
    );
    b.screenshot("file-flow").await;
    b.click("button[type=submit]").await;

    let link = b.find("a#download").await;
    assert_eq!(link.attr("download").await.unwrap().as_deref(), Some("hook-config.json"));
    b.screenshot("file-flow-download").await;
    link.click().await.unwrap();
    let file = std::fs::read_to_string(b.downloaded("hook-config.json").await).unwrap();
    let v: serde_json::Value = serde_json::from_str(&file).unwrap_or_else(|e| panic!("{e}: {file}"));
    assert_eq!(v["url"], "https://boku.example");
    assert_eq!(v["note"], "%%TACHI_KEY%%", "only the first placeholder is replaced");
    let key = v["token"].as_str().unwrap().to_owned();
    let status = expect_ok(whoami(&server, &key).await).await;
    assert_eq!(status["permissions"], json!(["submit_score"]));

    // A second key for the same client replaces the first, and says so.
    b.goto(&server.url(&path)).await;
    b.click("button[type=submit]").await;
    let warning = b.find_with_text(".notice", "previous key").await.text().await.unwrap();
    assert!(warning.contains("replaced"), "{warning}");
    b.screenshot("file-flow-replaced").await;
    expect_err(whoami(&server, &key).await, StatusCode::UNAUTHORIZED).await;
    b.close().await;
}

#[tokio::test]
async fn without_a_file_name_the_key_is_revealed_to_copy() {
    let server = server().await;
    let author = server.register("botAuthor").await;
    let client = author.create_client(json!({ "name": "Discord Bot", "permissions": ["manage_rivals"] })).await;
    server.register("playerB").await;

    let b = Browser::start().await;
    log_in_at(&b, &server, "playerB").await;
    b.goto(&server.url(&format!("/client-file-flow/{}", client.id))).await;
    b.click("button[type=submit]").await;
    let field = b.find("#key-text").await;
    assert!(!field.is_displayed().await.unwrap(), "hidden until revealed");
    b.click("details.reveal summary").await;
    let key = field.prop("value").await.unwrap().unwrap();
    assert!(field.is_displayed().await.unwrap());
    b.click("button[data-copy=key-text]").await;
    b.find_with_text("button[data-copy=key-text]", "Copied").await;
    b.screenshot("file-flow-reveal").await;
    expect_ok(whoami(&server, &key).await).await;
    b.close().await;
}

#[tokio::test]
async fn revoking_a_key_on_the_dashboard_makes_it_stop_working() {
    let server = server().await;
    let author = server.register("authorA").await;
    let client = server.client_of(&author, &["customise_profile"]).await;
    let player: User = server.register("playerB").await;
    let key = server.authorize(&player, &client).await;
    expect_ok(whoami(&server, &key).await).await;

    let b = Browser::start().await;
    log_in_at(&b, &server, "playerB").await;
    let row = b.find_with_text("#keys li.key", "Epic Games Token").await;
    row.find(fantoccini::Locator::Css("button")).await.unwrap().click().await.unwrap();
    let notice = b.find(".notice").await.text().await.unwrap();
    assert!(notice.contains("revoked"), "{notice}");
    assert!(b.text("#keys").await.contains("No application"), "the key is gone from the list");
    expect_err(whoami(&server, &key).await, StatusCode::UNAUTHORIZED).await;
    b.close().await;
}

#[tokio::test]
async fn broken_links_get_a_clear_page_named_after_the_site() {
    let server = server().await;
    let author = server.register("authorA").await;
    let no_redirect = author.create_client(json!({ "name": "File Only", "permissions": ["submit_score"] })).await;
    server.register("playerB").await;

    let b = Browser::start().await;
    log_in_at(&b, &server, "playerB").await;
    for (path, says, shot) in [
        ("/oauth/request-auth?clientID=CInope".to_owned(), "No application with this ID", "error-unknown-client"),
        ("/oauth/request-auth".to_owned(), "clientID is missing", "error-missing-client"),
        (format!("/oauth/request-auth?clientID={}", no_redirect.id), "no redirect URI", "error-no-redirect"),
        ("/client-file-flow/CInope".to_owned(), "No application with this ID", "error-file-flow-unknown"),
        ("/no/such/page".to_owned(), "", "error-not-found"),
    ] {
        b.goto(&server.url(&path)).await;
        let heading = b.find("main h1").await.text().await.unwrap();
        let text = b.text("main").await;
        assert!(!heading.is_empty() && text.contains(says), "{path}: {text}");
        for leak in ["panicked", "RUST_BACKTRACE", "sqlx", "src/"] {
            assert!(!text.contains(leak), "{path} shows internals: {text}");
        }
        assert_eq!(b.text(".brand").await, SITE, "{path}");
        assert!(b.client.title().await.unwrap().ends_with(SITE), "{path}");
        if shot == "error-unknown-client" {
            b.screenshot(shot).await;
        }
    }
    b.close().await;
}

#[tokio::test]
async fn login_returns_only_to_local_paths_and_the_cookie_is_locked_down() {
    let server = server().await;
    server.register("playerB").await;
    let b = Browser::start().await;
    for evil in ["https://evil.example/", "//evil.example/", "/\\evil.example"] {
        let q: String = url::form_urlencoded::byte_serialize(evil.as_bytes()).collect();
        b.goto(&server.url(&format!("/login?next={q}"))).await;
        log_in(&b, "playerB").await;
        let u = b.wait_url("the dashboard", |u| u.path() == "/").await;
        assert_eq!(u.host_str(), Some("127.0.0.1"), "{evil} led to {u}");
        let cookie = b.cookie(&format!("{SITE}_SESSION")).await.expect("a session cookie");
        assert_eq!(cookie.http_only(), Some(true));
        assert_eq!(cookie.same_site().map(|s| s.to_string()).as_deref(), Some("Lax"));
        b.goto(&server.url("/logout")).await;
        b.screenshot("logout").await;
        b.click("form[action='/logout'] button[type=submit]").await;
        b.wait_url("the login page", |u| u.path() == "/login").await;
    }
    b.close().await;

    // The consent page cannot be framed and does not leak its URL.
    let http = b_http(&server, "playerB").await;
    let author = server.register("authorA").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let res = http.get(server.url(&format!("/oauth/request-auth?clientID={}", client.id))).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn at_phone_width_every_page_fits_and_consent_works_by_keyboard() {
    let server = server().await;
    let callback = Callback::start().await;
    let author = server.register("authorA").await;
    let client = author
        .create_client(json!({
            "name": "Epic Games", "redirectUri": callback.url,
            "permissions": ["customise_profile", "submit_score", "manage_targets"],
        }))
        .await;
    let player = server.register("playerB").await;
    server.authorize(&player, &client).await;
    callback.hits();

    let b = Browser::start_sized(PHONE).await;
    assert_eq!(b.js("return window.innerWidth").await, 390);
    b.goto(&server.url("/login")).await;
    b.assert_no_horizontal_scroll().await;
    b.screenshot("phone-login").await;
    log_in(&b, "playerB").await;
    b.wait_url("the dashboard", |u| u.path() == "/").await;
    b.find("#keys").await;
    b.assert_no_horizontal_scroll().await;
    b.screenshot("phone-dashboard").await;
    for path in ["/register", "/logout", "/oauth/request-auth?clientID=CInope"] {
        b.goto(&server.url(path)).await;
        b.find("main h1").await;
        b.assert_no_horizontal_scroll().await;
    }

    let before = callback.hits().len();
    b.goto(&server.url(&format!("/oauth/request-auth?clientID={}&context=phone", client.id))).await;
    let approve = b.find("button[value=approve]").await;
    b.assert_no_horizontal_scroll().await;
    assert!(approve.is_displayed().await.unwrap());
    let (x, _, w, _) = approve.rectangle().await.unwrap();
    assert!(x >= 0.0 && x + w <= 390.0, "the button is on screen: {x} {w}");
    b.screenshot("phone-consent").await;

    // Keyboard only: tab to "Approve" and press Enter.
    let mut reached = false;
    for _ in 0..30 {
        b.press(Key::Tab).await;
        let value = b.js("return document.activeElement && document.activeElement.value").await;
        if value == "approve" {
            reached = true;
            break;
        }
    }
    assert!(reached, "Approve can be reached with the Tab key");
    b.press(Key::Enter).await;
    b.wait_url("the redirect URI", |u| u.as_str().starts_with(&callback.url)).await;
    let hits = callback.hits();
    assert_eq!(hits.len(), before + 1);
    assert!(hits.last().unwrap().contains("context=phone"));
    b.close().await;
}

#[tokio::test]
async fn an_author_edits_resets_the_secret_of_and_deletes_a_client_on_the_dashboard() {
    let server = server().await;
    let author = server.register("authorA").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let player = server.register("playerB").await;
    let key = server.authorize(&player, &client).await;

    let b = Browser::start().await;
    log_in_at(&b, &server, "authorA").await;
    let card = format!("article[aria-labelledby='client-{}']", client.id);

    // Edit: a new name, shown afterwards.
    b.click(&format!("{card} details.edit summary")).await;
    b.fill(&format!("#name-{}", client.id), "Epic Games Launcher").await;
    b.screenshot("dashboard-edit").await;
    b.click(&format!("{card} details.edit button[type=submit]")).await;
    b.find_with_text(".notice", "updated").await;
    assert!(b.text(&card).await.contains("Epic Games Launcher"));

    // Reset the secret: the new one is shown once, and only it authenticates.
    b.click(&format!("{card} form[action$='/reset-secret'] button")).await;
    let secret = b.find("#client-secret").await.prop("value").await.unwrap().unwrap();
    assert!(b.text("h1").await.contains("New secret"));
    assert_ne!(secret, client.secret);
    let renewed = crate::support::ApiClient { secret: secret.clone(), ..client.clone() };
    expect_err(server.exchange(&client, "no-such-code").await, StatusCode::FORBIDDEN).await;
    expect_err(server.exchange(&renewed, "no-such-code").await, StatusCode::NOT_FOUND).await;
    expect_ok(whoami(&server, &key).await).await;

    // Delete, after confirming: the client and the keys it issued are gone.
    b.goto(&server.url("/")).await;
    b.click(&format!("{card} details.confirm summary")).await;
    b.click(&format!("{card} form[action$='/delete'] button")).await;
    b.find_with_text(".notice", "deleted").await;
    assert!(b.find_all(&card).await.is_empty());
    expect_err(whoami(&server, &key).await, StatusCode::UNAUTHORIZED).await;
    b.close().await;
}

#[tokio::test]
async fn the_consent_page_says_when_a_program_on_the_computer_will_open() {
    let server = server().await;
    let author = server.register("authorA").await;
    let client = author
        .create_client(
            json!({ "name": "Beatoraja Hook", "redirectUri": "tachi-beatoraja://auth", "permissions": ["submit_score"] }),
        )
        .await;
    server.register("playerB").await;

    let b = Browser::start().await;
    log_in_at(&b, &server, "playerB").await;
    b.goto(&server.url(&format!("/oauth/request-auth?clientID={}", client.id))).await;
    let text = b.text(".destination").await;
    assert!(text.contains("a program on your computer, not a website"), "{text}");
    assert!(text.contains("tachi-beatoraja:"), "{text}");
    b.find("button[value=approve]").await;
    b.screenshot("consent-program").await;
    b.close().await;
}

/// The whole reset in the browser, through a real mail server: the login
/// page's "Forgot your password?", the e-mail form, the mail's link, a new
/// password, and the dashboard, logged in. Then the password is changed
/// again from the dashboard.
#[tokio::test]
async fn a_forgotten_password_is_reset_through_the_mailed_link_and_changed_on_the_dashboard() {
    use crate::support::mail::{Mailbox, SmtpSink};
    let mailbox = Mailbox::new();
    let sink = SmtpSink::start(&mailbox).await;
    let server = TestServer::start_with(|a| {
        a.site_name = SITE.into();
        a.accounts.smtp_url = Some(sink.url());
    })
    .await;
    server.register("forgetful").await;

    let b = Browser::start().await;
    b.goto(&server.url("/login")).await;
    b.click("#forgot-password").await;
    b.wait_url("the forgot page", |u| u.path() == "/forgot-password").await;
    b.fill("#email", "forgetful@example.org").await;
    b.screenshot("forgot-password").await;
    b.click("form[action='/forgot-password'] button[type=submit]").await;
    assert!(b.text("h1").await.contains("Check your mail"));
    b.screenshot("forgot-password-sent").await;

    let mail = mailbox.nth_link("forgetful@example.org", "/reset-password", 0).await;
    b.goto(&mail.link_for("/reset-password")).await;
    b.fill("#password", "a brand new passphrase").await;
    b.screenshot("reset-password").await;
    b.click("form[action='/reset-password'] button[type=submit]").await;
    b.wait_url("the dashboard", |u| u.path() == "/").await;
    assert!(b.text(".notice").await.contains("new password is set"));
    assert!(b.text(".top").await.contains("forgetful"), "logged in");
    b.screenshot("reset-password-done").await;

    // The link works once.
    b.goto(&mail.link_for("/reset-password")).await;
    b.fill("#password", "yet another passphrase").await;
    b.click("form[action='/reset-password'] button[type=submit]").await;
    assert!(b.text(".error").await.contains("expired or was already used"));

    // Change it again from the dashboard.
    b.goto(&server.url("/")).await;
    b.click("#change-password summary").await;
    b.fill("#old-password", "a brand new passphrase").await;
    b.fill("#new-password", "the third passphrase").await;
    b.screenshot("change-password").await;
    b.click("form[action='/account/password'] button[type=submit]").await;
    b.wait_url("the dashboard", |u| u.path() == "/").await;
    assert!(b.text(".notice").await.contains("password was changed"));
    expect_ok(server.login_with(&server.browser(), "forgetful", "the third passphrase").await).await;
    b.find("#security-log").await;
    b.js("document.getElementById('security-log').scrollIntoView()").await;
    assert!(b.text("#security-log").await.contains("password changed"));
    b.screenshot("security-log").await;
    b.close().await;
}
