//! Malformed input on every JSON route: whatever arrives, the answer is a
//! 4xx envelope whose description names the problem — never a 500, never a
//! dropped connection. Also the API's own 404 and 405.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{ApiClient, PASSWORD, REDIRECT, TestServer, User, expect_err, expect_ok};

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// Who sends a case.
#[derive(Clone, Copy)]
enum As {
    Guest,
    Session,
}

struct Case {
    what: String,
    who: As,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: StatusCode,
    /// A word of the description, compared case-insensitively.
    says: &'static str,
}

fn case(what: impl Into<String>, who: As, method: Method, path: impl Into<String>) -> Case {
    Case {
        what: what.into(),
        who,
        method,
        path: path.into(),
        content_type: None,
        body: vec![],
        status: StatusCode::BAD_REQUEST,
        says: "",
    }
}

impl Case {
    fn json(mut self, body: Value) -> Self {
        self.content_type = Some(JSON);
        self.body = serde_json::to_vec(&body).unwrap();
        self
    }

    fn raw(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }

    fn answers(mut self, status: StatusCode, says: &'static str) -> Self {
        self.status = status;
        self.says = says;
        self
    }
}

/// Sends each case and checks its answer: the expected status (never 5xx),
/// a JSON envelope, and a description that says what is wrong.
async fn run(server: &TestServer, user: &User, cases: Vec<Case>) {
    let mut failures = vec![];
    let guest = server.anonymous();
    for c in cases {
        let http: &Client = match c.who {
            As::Guest => &guest,
            As::Session => &user.http,
        };
        let mut req = http.request(c.method.clone(), server.api(&c.path));
        if let Some(ct) = c.content_type {
            req = req.header(CONTENT_TYPE, ct).body(c.body.clone());
        }
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => {
                failures.push(format!("{}: no answer ({e})", c.what));
                continue;
            }
        };
        let status = res.status();
        let is_json = res.headers().get(CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(JSON.as_bytes()));
        let text = res.text().await.unwrap_or_default();
        let Ok(v) = serde_json::from_str::<Value>(&text) else {
            failures.push(format!("{}: {status}, not a JSON envelope: {text:.200}", c.what));
            continue;
        };
        let description = v["description"].as_str().unwrap_or_default();
        let ok = status == c.status
            && status.as_u16() < 500
            && is_json
            && v["success"] == json!(status == StatusCode::OK)
            && !description.is_empty()
            && description.to_lowercase().contains(&c.says.to_lowercase());
        if !ok {
            failures
                .push(format!("{}: expected {} saying {:?}, got {status}: {:.300}", c.what, c.status, c.says, text));
        }
    }
    assert!(failures.is_empty(), "{} cases failed:\n{}", failures.len(), failures.join("\n"));
}

async fn setup() -> (TestServer, User, ApiClient) {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let client = server.client_of(&author, &["customise_profile"]).await;
    (server, author, client)
}

/// Routes taking a JSON body, with who may call them.
fn json_routes(user: &User, client: &ApiClient) -> Vec<(As, Method, String)> {
    vec![
        (As::Guest, Method::POST, "/auth/register".into()),
        (As::Guest, Method::POST, "/auth/login".into()),
        (As::Session, Method::PATCH, format!("/users/{}", user.id)),
        (As::Session, Method::POST, "/clients/create".into()),
        (As::Session, Method::PATCH, format!("/clients/{}", client.id)),
        (As::Session, Method::POST, format!("/users/{}/api-tokens/create", user.id)),
    ]
}

#[tokio::test]
async fn the_token_endpoint_refuses_broken_forms() {
    let (server, user, _) = setup().await;
    let c = |what: &str| case(format!("token: {what}"), As::Guest, Method::POST, "/oauth/token");
    let cases = vec![
        c("a form over 64 KiB")
            .raw(FORM, format!("code={}", "x".repeat(70 * 1024)))
            .answers(StatusCode::PAYLOAD_TOO_LARGE, "too large"),
        c("a form with a duplicate field")
            .raw(FORM, "grant_type=authorization_code&code=a&code=b")
            .answers(StatusCode::BAD_REQUEST, "duplicate"),
        c("an empty form").raw(FORM, "").answers(StatusCode::BAD_REQUEST, "grant_type"),
        c("a form with a bad escape")
            .raw(FORM, "grant_type=authorization_code&client_id=%ZZ&client_secret=x&redirect_uri=x&code=x")
            .answers(StatusCode::NOT_FOUND, "client_id"),
        c("text/plain")
            .raw("text/plain", "grant_type=authorization_code")
            .answers(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"),
    ];
    run(&server, &user, cases).await;
}

#[tokio::test]
async fn broken_bodies_are_refused_on_every_json_route() {
    let (server, user, client) = setup().await;
    let mut cases = vec![];
    let mut every = json_routes(&user, &client);
    every.push((As::Guest, Method::POST, "/oauth/token".into()));
    every.push((As::Session, Method::POST, "/oauth/create-code".into()));
    every.push((As::Guest, Method::POST, "/status".into()));
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    for (who, method, path) in every {
        let c = |what: &str| case(format!("{method} {path}: {what}"), who, method.clone(), path.clone());
        cases.push(c("malformed JSON").raw(JSON, "{,}").answers(StatusCode::BAD_REQUEST, "not valid JSON"));
        cases.push(c("truncated JSON").raw(JSON, "{").answers(StatusCode::BAD_REQUEST, "not valid JSON"));
        cases.push(c("trailing garbage").raw(JSON, r#"{} {}"#).answers(StatusCode::BAD_REQUEST, "the request body"));
        cases.push(c("a list, not an object").json(json!([1, 2, 3])).answers(StatusCode::BAD_REQUEST, "JSON object"));
        cases.push(c("a bare string").json(json!("hello")).answers(StatusCode::BAD_REQUEST, "JSON object"));
        // serde would read it into the route's fields by position; refused either way.
        cases.push(
            c("a list that fits by position")
                .json(json!([null, null]))
                .answers(StatusCode::BAD_REQUEST, "the request body"),
        );
        cases.push(c("deeply nested").raw(JSON, nested.clone()).answers(StatusCode::BAD_REQUEST, "the request body"));
        cases.push(
            c("invalid UTF-8")
                .raw(JSON, b"{\"\xff\xfe\": 1}".to_vec())
                .answers(StatusCode::BAD_REQUEST, "not valid JSON"),
        );
        let huge = json!({ "name": "x".repeat(70 * 1024) });
        cases.push(c("a body over 64 KiB").json(huge).answers(StatusCode::PAYLOAD_TOO_LARGE, "too large"));
    }
    for (who, method, path) in json_routes(&user, &client) {
        let c = |what: &str| case(format!("{method} {path}: {what}"), who, method.clone(), path.clone());
        cases.push(c("text/plain").raw("text/plain", "{}").answers(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"));
        cases.push(c("a form body").raw(FORM, "a=1").answers(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"));
        cases.push(c("an empty body").raw(JSON, "").answers(StatusCode::BAD_REQUEST, "JSON"));
    }
    run(&server, &user, cases).await;
}

/// serde reads a struct from a list by position: `[null, null]` was read as
/// `{"name": null, "redirectUri": null}` and cleared the client's redirect URI.
#[tokio::test]
async fn a_list_is_not_read_as_an_object_by_position() {
    let (_server, user, client) = setup().await;
    let why =
        expect_err(user.patch(&format!("/clients/{}", client.id), json!([null, null])).await, StatusCode::BAD_REQUEST)
            .await;
    assert!(why.contains("JSON object"), "{why}");
    let doc = expect_ok(user.get(&format!("/clients/{}", client.id)).await).await;
    assert_eq!(doc["redirectUri"], REDIRECT);
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_are_named() {
    let (server, user, client) = setup().await;
    let me = format!("/users/{}", user.id);
    let keys = format!("/users/{}/api-tokens/create", user.id);
    let cl = format!("/clients/{}", client.id);
    let g = |what: &str, m: Method, p: &str| case(what, As::Guest, m, p);
    let s = |what: &str, m: Method, p: &str| case(what, As::Session, m, p);
    let bad = StatusCode::BAD_REQUEST;
    let cases = vec![
        g("register: username a number", Method::POST, "/auth/register")
            .json(json!({ "username": 5, "!password": PASSWORD, "email": "a@example.org" }))
            .answers(bad, "username"),
        g("register: email missing", Method::POST, "/auth/register")
            .json(json!({ "username": "someone", "!password": PASSWORD }))
            .answers(bad, "email"),
        g("register: password under its plain name", Method::POST, "/auth/register")
            .json(json!({ "username": "someone", "password": PASSWORD, "email": "a@example.org" }))
            .answers(bad, "!password"),
        g("login: password missing", Method::POST, "/auth/login")
            .json(json!({ "username": "authorA" }))
            .answers(bad, "!password"),
        g("login: password null", Method::POST, "/auth/login")
            .json(json!({ "username": "authorA", "!password": null }))
            .answers(bad, "!password"),
        s("profile: about a number", Method::PATCH, &me).json(json!({ "about": 5 })).answers(bad, "about"),
        s("profile: unknown field", Method::PATCH, &me)
            .json(json!({ "about": "x", "email": "e@x.org" }))
            .answers(bad, "unknown field"),
        s("profile: duplicate field", Method::PATCH, &me)
            .raw(JSON, r#"{"about":"a","about":"b"}"#)
            .answers(bad, "duplicate"),
        s("client: unknown field", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "permissions": ["submit_score"], "clientSecret": "mine" }))
            .answers(bad, "unknown field"),
        s("client: name a list", Method::POST, "/clients/create")
            .json(json!({ "name": ["Epic"], "permissions": ["submit_score"] }))
            .answers(bad, "name"),
        s("client: redirectUri a number", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "redirectUri": 5, "permissions": ["submit_score"] }))
            .answers(bad, "redirectUri"),
        s("client: permissions a number", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "permissions": 3 }))
            .answers(bad, "permissions"),
        s("client: permissions with a non-boolean", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "permissions": { "submit_score": "yes" } }))
            .answers(bad, "permissions"),
        s("client edit: unknown field", Method::PATCH, &cl).json(json!({ "author": 99 })).answers(bad, "unknown field"),
        s("client edit: name a number", Method::PATCH, &cl).json(json!({ "name": 5 })).answers(bad, "name"),
        s("key: permissions a string", Method::POST, &keys)
            .json(json!({ "permissions": "submit_score" }))
            .answers(bad, "permissions"),
        s("key: clientID a number", Method::POST, &keys).json(json!({ "clientID": 5 })).answers(bad, "clientID"),
        s("key: unknown field", Method::POST, &keys)
            .json(json!({ "permissions": ["submit_score"], "token": "mine" }))
            .answers(bad, "unknown field"),
        s("create-code: unknown field", Method::POST, "/oauth/create-code")
            .json(json!({ "client": "x" }))
            .answers(bad, "unknown field"),
        s("create-code: clientID a number", Method::POST, "/oauth/create-code")
            .json(json!({ "clientID": 5 }))
            .answers(bad, "clientID"),
        g("status: echo a number", Method::POST, "/status").json(json!({ "echo": 5 })).answers(bad, "echo"),
        g("token: client_id a number", Method::POST, "/oauth/token")
            .json(json!({ "client_id": 5 }))
            .answers(bad, "client_id"),
    ];
    run(&server, &user, cases).await;
}

#[tokio::test]
async fn ids_in_paths_are_checked() {
    let (server, user, _) = setup().await;
    let g = |what: &str, m: Method, p: &str| case(what, As::Guest, m, p);
    let s = |what: &str, m: Method, p: &str| case(what, As::Session, m, p);
    let missing = StatusCode::NOT_FOUND;
    let long_id = "C".repeat(3000);
    let cases = vec![
        // Not digits: a username (the original's ResolveUser); nobody has these.
        g("user name nobody has", Method::GET, "/users/abc").answers(missing, "does not exist"),
        g("user id negative overflow", Method::GET, "/users/-99999999999999999999").answers(missing, "does not exist"),
        g("user id overflow", Method::GET, "/users/99999999999999999999").answers(missing, "does not exist"),
        g("user id with a null byte", Method::GET, "/users/1%00").answers(missing, "does not exist"),
        g("user id in unicode", Method::GET, "/users/%F0%9F%8E%B5").answers(missing, "does not exist"),
        g("a very long user name", Method::GET, &format!("/users/{long_id}")).answers(missing, "does not exist"),
        s("user name nobody has (patch)", Method::PATCH, "/users/abc")
            .json(json!({ "about": "x" }))
            .answers(missing, "does not exist"),
        s("user name nobody has (keys)", Method::GET, "/users/abc/api-tokens").answers(missing, "does not exist"),
        s("user name nobody has (new key)", Method::POST, "/users/abc/api-tokens/create")
            .json(json!({ "permissions": ["submit_score"] }))
            .answers(missing, "does not exist"),
        s("user name nobody has (revoke)", Method::DELETE, "/users/abc/api-tokens/AKx")
            .answers(missing, "does not exist"),
        g("unknown user id", Method::GET, "/users/0").answers(missing, "does not exist"),
        g("client id with a null byte", Method::GET, "/clients/CI%00x").answers(missing, "client"),
        g("client id in unicode", Method::GET, "/clients/%F0%9F%8E%B5").answers(missing, "client"),
        g("a very long client id", Method::GET, &format!("/clients/{long_id}")).answers(missing, "client"),
        s("key id with a null byte", Method::DELETE, &format!("/users/{}/api-tokens/AK%00x", user.id))
            .answers(missing, "API key"),
        s("a very long key id", Method::DELETE, &format!("/users/{}/api-tokens/{long_id}", user.id))
            .answers(missing, "API key"),
        s("edit a client id with a null byte", Method::PATCH, "/clients/CI%00x")
            .json(json!({ "name": "Epic" }))
            .answers(missing, "client"),
    ];
    run(&server, &user, cases).await;
}

#[tokio::test]
async fn long_unicode_and_null_byte_strings_are_handled() {
    let (server, user, client) = setup().await;
    let me = format!("/users/{}", user.id);
    let keys = format!("/users/{}/api-tokens/create", user.id);
    let g = |what: &str, m: Method, p: &str| case(what, As::Guest, m, p);
    let s = |what: &str, m: Method, p: &str| case(what, As::Session, m, p);
    let bad = StatusCode::BAD_REQUEST;
    let ok = StatusCode::OK;
    let long = "x".repeat(10_000);
    let register = |username: &str| json!({ "username": username, "!password": PASSWORD, "email": "a@example.org" });
    let new_client = |name: &str| json!({ "name": name, "permissions": ["submit_score"] });
    let mut exchange = server.exchange_body(&client, "x");
    let cases = vec![
        g("very long username", Method::POST, "/auth/register").json(register(&long)).answers(bad, "username"),
        g("unicode username", Method::POST, "/auth/register").json(register("日本語")).answers(bad, "username"),
        g("null byte in username", Method::POST, "/auth/register").json(register("nul\0name")).answers(bad, "username"),
        g("null byte in email", Method::POST, "/auth/register")
            .json(json!({ "username": "someone", "!password": PASSWORD, "email": "a\0@example.org" })).answers(bad, "email"),
        g("very long password", Method::POST, "/auth/register")
            .json(json!({ "username": "someone", "!password": long, "email": "a@example.org" })).answers(bad, "password"),
        g("unicode password", Method::POST, "/auth/register")
            .json(json!({ "username": "unicode_pw", "!password": "pässwörd 🎵🎵", "email": "u@example.org" })).answers(ok, "registered"),
        g("very long username at login", Method::POST, "/auth/login")
            .json(json!({ "username": long, "!password": PASSWORD })).answers(StatusCode::UNAUTHORIZED, "wrong"),
        g("null byte in username at login", Method::POST, "/auth/login")
            .json(json!({ "username": "author\0A", "!password": PASSWORD })).answers(StatusCode::UNAUTHORIZED, "wrong"),
        g("unicode username at login", Method::POST, "/auth/login")
            .json(json!({ "username": "ÄUTHORa", "!password": PASSWORD })).answers(StatusCode::UNAUTHORIZED, "wrong"),
        s("very long about", Method::PATCH, &me).json(json!({ "about": "x".repeat(2001) })).answers(bad, "about"),
        s("very long status", Method::PATCH, &me).json(json!({ "status": long })).answers(bad, "status"),
        s("null byte in about", Method::PATCH, &me).json(json!({ "about": "a\0b" })).answers(bad, "about"),
        s("null byte in status", Method::PATCH, &me).json(json!({ "status": "a\0b" })).answers(bad, "status"),
        s("unicode about", Method::PATCH, &me).json(json!({ "about": "🎵 héllo\nwörld 日本" })).answers(ok, "updated"),
        s("very long client name", Method::POST, "/clients/create").json(new_client(&long)).answers(bad, "name"),
        s("null byte in client name", Method::POST, "/clients/create").json(new_client("Epic\0Games")).answers(bad, "name"),
        s("unicode client name", Method::POST, "/clients/create").json(new_client("スコアフック 🎵")).answers(ok, "created"),
        s("very long redirectUri", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "redirectUri": format!("https://x.org/{long}"), "permissions": ["submit_score"] })).answers(bad, "redirectUri"),
        s("null byte in redirectUri", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "redirectUri": "https://x.org/cb\0", "permissions": ["submit_score"] })).answers(bad, "redirectUri"),
        s("null byte in webhookUri", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "webhookUri": "https://x.org/\0hook", "permissions": ["submit_score"] })).answers(bad, "webhookUri"),
        s("null byte in apiKeyFormat", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "apiKeyFormat": "%%TACHI_KEY%%\0", "permissions": ["submit_score"] })).answers(bad, "apiKeyFormat"),
        s("null byte in apiKeyFilename", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "apiKeyFilename": "a\0.json", "permissions": ["submit_score"] })).answers(bad, "apiKeyFilename"),
        s("unicode permission name", Method::POST, "/clients/create")
            .json(json!({ "name": "Epic", "permissions": ["submit_scöre"] })).answers(bad, "unknown permission"),
        s("very long identifier", Method::POST, &keys)
            .json(json!({ "permissions": ["submit_score"], "identifier": long })).answers(bad, "identifier"),
        s("null byte in identifier", Method::POST, &keys)
            .json(json!({ "permissions": ["submit_score"], "identifier": "a\0b" })).answers(bad, "identifier"),
        s("null byte in a Client File Flow clientID", Method::POST, &keys).json(json!({ "clientID": "CI\0x" })).answers(StatusCode::NOT_FOUND, "client"),
        s("null byte in create-code's clientID", Method::POST, "/oauth/create-code").json(json!({ "clientID": "CI\0x" })).answers(bad, "pending"),
        g("unicode echo", Method::POST, "/status").json(json!({ "echo": "é\0🎵" })).answers(ok, "status"),
        g("very long code", Method::POST, "/oauth/token").json({ exchange["code"] = json!(long); exchange.clone() }).answers(StatusCode::NOT_FOUND, "code"),
        g("null byte in code", Method::POST, "/oauth/token").json({ exchange["code"] = json!("a\0b"); exchange.clone() }).answers(StatusCode::NOT_FOUND, "code"),
        g("null byte in client_id", Method::POST, "/oauth/token").json({ exchange["client_id"] = json!("CI\0x"); exchange.clone() }).answers(StatusCode::NOT_FOUND, "client_id"),
        g("very long client_id", Method::POST, "/oauth/token").json({ exchange["client_id"] = json!(long); exchange.clone() }).answers(StatusCode::NOT_FOUND, "client_id"),
    ];
    run(&server, &user, cases).await;
}

#[tokio::test]
async fn strange_authorization_headers_are_answered() {
    let server = TestServer::start().await;
    let http = server.anonymous();
    let long = format!("Bearer {}", "k".repeat(5000));
    let cases: Vec<(HeaderValue, StatusCode, &str)> = vec![
        (HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(), StatusCode::BAD_REQUEST, "Authorization"),
        (HeaderValue::from_str(&long).unwrap(), StatusCode::UNAUTHORIZED, "API key"),
        (HeaderValue::from_static("Bearer"), StatusCode::UNAUTHORIZED, "API key"),
        (HeaderValue::from_static("Bearer a b c"), StatusCode::UNAUTHORIZED, "API key"),
        (HeaderValue::from_static("bearer lowercase-scheme"), StatusCode::UNAUTHORIZED, "API key"),
        (HeaderValue::from_static("Basic dXNlcjpwYXNz"), StatusCode::BAD_REQUEST, "Bearer"),
    ];
    for (value, status, says) in cases {
        let res = http.get(server.api("/status")).header(AUTHORIZATION, value.clone()).send().await.unwrap();
        let got = res.status();
        let v: Value = res.json().await.unwrap();
        assert_eq!(got, status, "{value:?}: {v}");
        assert_eq!(v["success"], false);
        assert!(v["description"].as_str().unwrap().contains(says), "{value:?}: {v}");
    }
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_envelopes() {
    let (server, user, _) = setup().await;
    let g = |what: &str, m: Method, p: &str| case(what, As::Guest, m, p);
    let cases = vec![
        g("unknown route", Method::GET, "/nope").answers(StatusCode::NOT_FOUND, "no such API route"),
        g("the API's root", Method::GET, "").answers(StatusCode::NOT_FOUND, "no such API route"),
        g("the API's root, with a slash", Method::POST, "/").answers(StatusCode::NOT_FOUND, "no such API route"),
        g("unknown nested route", Method::GET, "/users/1/nope").answers(StatusCode::NOT_FOUND, "no such API route"),
        g("unknown POST route", Method::POST, "/oauth/authorize")
            .json(json!({}))
            .answers(StatusCode::NOT_FOUND, "no such API route"),
        g("the seeds' misprinted create-code route", Method::POST, "/create-code")
            .answers(StatusCode::NOT_FOUND, "no such API route"),
        g("DELETE status", Method::DELETE, "/status").answers(StatusCode::METHOD_NOT_ALLOWED, "method"),
        g("GET login", Method::GET, "/auth/login").answers(StatusCode::METHOD_NOT_ALLOWED, "method"),
        g("PUT create client", Method::PUT, "/clients/create").answers(StatusCode::METHOD_NOT_ALLOWED, "method"),
        g("GET token", Method::GET, "/oauth/token").answers(StatusCode::METHOD_NOT_ALLOWED, "method"),
        g("POST a user", Method::POST, "/users/1").json(json!({})).answers(StatusCode::METHOD_NOT_ALLOWED, "method"),
    ];
    run(&server, &user, cases).await;
}
