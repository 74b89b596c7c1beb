//! The dashboard page: forms that fail come back with the user's input in
//! them (nothing typed is lost to a validation error), and a user's keys are
//! shown a screen at a time.

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
    assert!(html.contains("redirectUri must be an http or https URL"), "the reason is shown");
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
