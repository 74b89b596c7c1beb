//! The dashboard and the pages around it: forms that fail come back with the
//! user's input in them (nothing typed is lost to a validation error) and a
//! reason written for people, a user's keys are shown a screen at a time,
//! and the pages say what is true of the one reading them.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{TestServer, User, expect_ok};

/// The CSRF token of the user's dashboard forms.
async fn csrf_of(user: &User) -> String {
    let html = user.http.get(format!("{}/", user.base())).send().await.unwrap().text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn a_rejected_new_client_keeps_what_was_typed() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let csrf = csrf_of(&author).await;
    let form = [
        ("csrf", csrf.as_str()),
        ("name", "My Lovely Stats Site"),
        ("redirect_uri", "ftp://stats.example/cb"),
        ("permissions", "manage_rivals"),
        ("api_key_filename", "stats-key.txt"),
    ];
    let res = author.http.post(format!("{}/clients", author.base())).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("The redirect URI must be an http or https URL"), "the reason is shown, in the form's words");
    assert!(!html.contains("redirectUri"), "no API field name on the page");
    assert!(html.contains(r#"value="My Lovely Stats Site""#));
    assert!(html.contains(r#"value="ftp://stats.example/cb""#));
    assert!(html.contains(r#"value="stats-key.txt""#));
    assert!(html.contains(r#"value="manage_rivals" checked"#));
    assert!(html.contains(r#"<details class="create" open>"#), "the form is open");
}

#[tokio::test]
async fn a_rejected_edit_keeps_what_was_typed() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let csrf = csrf_of(&author).await;
    let form = [("csrf", csrf.as_str()), ("name", "Renamed Games"), ("redirect_uri", "not a url")];
    let res =
        author.http.post(format!("{}/clients/{}/edit", author.base(), client.id)).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains(r#"value="Renamed Games""#));
    assert!(html.contains(r#"value="not a url""#));
    assert!(html.contains(r#"<details class="edit" open>"#));
}

/// The ids of the keys a dashboard screen lists (from their revoke forms),
/// and its "More keys" link.
fn keys_on_screen(html: &str) -> (Vec<String>, Option<String>) {
    let ids = html.split("action=\"/keys/").skip(1).map(|rest| rest[..rest.find('/').unwrap()].to_owned()).collect();
    let next = html.split_once(r#"rel="next""#).map(|(before, _)| {
        let href = &before[before.rfind("href=\"").unwrap() + 6..];
        href[..href.find('"').unwrap()].replace("&amp;", "&")
    });
    (ids, next)
}

async fn page(user: &User, path: &str) -> reqwest::Response {
    user.http.get(format!("{}{path}", user.base())).send().await.unwrap()
}

#[tokio::test]
async fn the_dashboard_shows_keys_a_screen_at_a_time() {
    let server = TestServer::start_with(|a| a.personal_key_cap = 1000).await;
    let user = server.register("player").await;
    let made = futures::future::join_all(
        (0..150).map(|i| user.request_key(json!({ "permissions": ["submit_score"], "identifier": format!("k{i}") }))),
    )
    .await;
    let mut issued = Vec::new();
    for res in made {
        issued.push(expect_ok(res).await["id"].as_str().unwrap().to_owned());
    }

    let first = page(&user, "/").await.text().await.unwrap();
    let (mut shown, next) = keys_on_screen(&first);
    assert_eq!(shown.len(), 100, "one screen holds 100 keys");
    assert!(!first.contains("First keys"), "the first screen has no way back");
    let second = page(&user, &next.expect("a link to the other 50").replace("#keys", "")).await.text().await.unwrap();
    let (rest, none) = keys_on_screen(&second);
    assert_eq!((rest.len(), none), (50, None), "the last screen has the rest and no further link");
    assert!(second.contains(r#"<a href="/#keys">First keys</a>"#));
    shown.extend(rest);
    let listed = user.keys().await.iter().map(|k| k["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(shown, listed, "every key once, in the API's order");
    issued.sort();
    shown.sort();
    assert_eq!(shown, issued);

    // A damaged link is a page saying so, not a 500 or an empty list.
    for bad in ["x", "12.", ".AKnope", "12.AK%27--", "99999999999999999999.AKab"] {
        let res = page(&user, &format!("/?keys_after={bad}")).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(res.text().await.unwrap().contains("damaged"), "{bad}");
    }
}

#[tokio::test]
async fn form_errors_are_written_for_people() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let csrf = csrf_of(&author).await;
    let form = [("csrf", csrf.as_str()), ("name", "No Permissions At All")];
    let res = author.http.post(format!("{}/clients", author.base())).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.text().await.unwrap().contains("Choose at least one permission."));

    let form = [("csrf", csrf.as_str()), ("old_password", "not my password"), ("password", "a new password")];
    let res = author.http.post(format!("{}/account/password", author.base())).form(&form).send().await.unwrap();
    let html = res.text().await.unwrap();
    assert!(!html.contains("!oldPassword"), "no API field name on the page");

    let res = server
        .browser()
        .post(server.url("/login"))
        .form(&[("csrf", "x"), ("username", "author"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a form without its page's token is refused");
}

#[tokio::test]
async fn an_admins_dashboard_does_not_claim_a_client_limit() {
    let server = TestServer::start().await;
    let player = server.register("player").await;
    let staffer = server.register("staffer").await;
    server.set_user_flags("staffer", Some(true), None).await;
    let theirs = page(&player, "/").await.text().await.unwrap();
    assert!(theirs.contains("You can own up to"), "a user is told the limit");
    let admins = page(&staffer, "/").await.text().await.unwrap();
    assert!(!admins.contains("You can own up to"), "admins are exempt from it");
    assert!(admins.contains("any number"));
}

#[tokio::test]
async fn the_login_page_says_who_is_logged_in_already() {
    let server = TestServer::start().await;
    let player = server.register("player").await;
    let html = page(&player, "/login").await.text().await.unwrap();
    assert!(html.contains("already logged in as <strong>player</strong>"), "{html}");
    let stranger = server.browser().get(server.url("/login")).send().await.unwrap().text().await.unwrap();
    assert!(!stranger.contains("already logged in"));
}

#[tokio::test]
async fn an_unknown_client_reads_the_same_on_every_page_a_link_leads_to() {
    let server = TestServer::start().await;
    let player = server.register("player").await;
    let consent = page(&player, "/oauth/request-auth?clientID=CInope").await.text().await.unwrap();
    let res = page(&player, "/client-file-flow/CInope").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let file_flow = res.text().await.unwrap();
    for html in [&consent, &file_flow] {
        assert!(html.contains("No application with this ID exists."), "{html}");
        assert!(!html.contains("no client has"), "not the API's text: {html}");
    }
}
