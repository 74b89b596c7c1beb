//! Dashboard forms that fail come back with the user's input in them:
//! nothing typed is lost to a validation error.

use reqwest::StatusCode;

use crate::support::{TestServer, User};

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
