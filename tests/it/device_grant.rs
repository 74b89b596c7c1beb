//! The device authorization grant (RFC 8628): a cabinet or score hook
//! without a browser shows a code, the player types it on /device and
//! approves, and the program's polls end with the same key as the code
//! grant's. Proved with the Rust `oauth2` crate's device flow and Chromium.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthType, ClientId, DeviceAuthorizationUrl, Scope, StandardDeviceAuthorizationResponse, TokenResponse, TokenUrl,
};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

use crate::oauth_standard::{authorize_url, expect_oauth_error, form_csrf, location, person, query_param};
use crate::support::browser::Browser;
use crate::support::{ApiClient, PASSWORD, REDIRECT, TestServer, User, expect_err, expect_ok};

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A score hook on a cabinet: a public client allowing the device grant,
/// with a key file format (the program writes its own file).
async fn cabinet_hook(author: &User) -> ApiClient {
    let body = json!({
        "name": "Cabinet Hook", "permissions": ["submit_score", "customise_session"], "public": true,
        "grants": ["device_code"], "apiKeyFormat": "{\"token\": \"%%TACHI_KEY%%\"}",
    });
    let doc = expect_ok(author.post("/clients/create", body).await).await;
    ApiClient { id: doc["clientID"].as_str().unwrap().into(), secret: String::new(), doc }
}

/// A confidential client (a server-side bridge) allowing both grants.
async fn bridge(author: &User) -> ApiClient {
    author
        .create_client(json!({
            "name": "Score Bridge", "redirectUri": REDIRECT, "permissions": ["submit_score"],
            "grants": ["authorization_code", "device_code"],
        }))
        .await
}

/// `POST /oauth/device_authorization` with body authentication.
async fn start(server: &TestServer, client: &ApiClient, extra: &[(&str, &str)]) -> reqwest::Response {
    let mut form = vec![("client_id", client.id.as_str())];
    if !client.secret.is_empty() {
        form.push(("client_secret", client.secret.as_str()));
    }
    form.extend_from_slice(extra);
    server.anonymous().post(server.url("/oauth/device_authorization")).form(&form).send().await.unwrap()
}

/// A device authorization that worked: its JSON.
async fn started(server: &TestServer, client: &ApiClient) -> Value {
    let res = start(server, client, &[]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

/// One poll of the token endpoint with `device_code`.
async fn poll(server: &TestServer, client: &ApiClient, device_code: &str) -> reqwest::Response {
    let mut form = vec![("grant_type", DEVICE_GRANT), ("device_code", device_code), ("client_id", client.id.as_str())];
    if !client.secret.is_empty() {
        form.push(("client_secret", client.secret.as_str()));
    }
    server.anonymous().post(server.url("/oauth/token")).form(&form).send().await.unwrap()
}

/// Types `code` on /device in `http` (logged in); returns the page's status and text.
async fn enter_code(server: &TestServer, http: &Client, code: &str) -> (StatusCode, String) {
    let page = http.get(server.url("/device")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = form_csrf(&page.text().await.unwrap());
    let res =
        http.post(server.url("/device")).form(&[("csrf", csrf.as_str()), ("user_code", code)]).send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

/// Types `code` on /device and answers its consent page with `decision`.
async fn answer(server: &TestServer, http: &Client, code: &str, decision: &str) -> String {
    let (status, consent) = enter_code(server, http, code).await;
    assert_eq!(status, StatusCode::OK, "{consent}");
    let csrf = form_csrf(&consent);
    let user_code = crate::oauth_standard::form_field(&consent, "user_code");
    let form = [("csrf", csrf.as_str()), ("user_code", user_code.as_str()), ("decision", decision)];
    let res = http.post(server.url("/device/answer")).form(&form).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

#[tokio::test]
async fn a_cabinet_gets_its_key_through_the_oauth2_crate_while_the_player_approves_in_chromium() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let hook = cabinet_hook(&author).await;
    let player = server.register("player").await;

    let oauth = BasicClient::new(ClientId::new(hook.id.clone()))
        .set_auth_type(AuthType::RequestBody)
        .set_device_authorization_url(DeviceAuthorizationUrl::new(server.url("/oauth/device_authorization")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap());
    let http = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let details: StandardDeviceAuthorizationResponse = oauth
        .exchange_device_code()
        .add_scope(Scope::new("submit_score".into()))
        .request_async(&http)
        .await
        .expect("a device authorization");
    let user_code = details.user_code().secret().clone();
    assert_eq!(user_code.len(), 9, "{user_code}");
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code.chars().all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)), "{user_code}");
    assert_eq!(details.verification_uri().as_str(), server.url("/device"));
    assert_eq!(details.expires_in().as_secs(), 600);
    assert_eq!(details.interval().as_secs(), 5);
    let complete = details.verification_uri_complete().expect("verification_uri_complete").secret().clone();

    // The cabinet polls (the crate waits the interval between polls) while
    // the player, on their phone or computer, opens the link it shows.
    let polling = oauth.exchange_device_access_token(&details).request_async(&http, tokio::time::sleep, None);
    let approving = async {
        let b = Browser::start().await;
        b.goto(&complete).await;
        // Not logged in: log in first, then back to /device with the code.
        b.wait_url("the login page", |u| u.path() == "/login").await;
        b.fill("#username", "player").await;
        b.fill("#password", PASSWORD).await;
        b.click("form[action='/login'] button[type=submit]").await;
        b.wait_url("/device", |u| u.path() == "/device").await;
        let field = b.find("#user-code").await;
        assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(user_code.as_str()));
        b.screenshot("device-entry").await;
        // Case and dash do not matter.
        b.fill("#user-code", &user_code.replace('-', "").to_lowercase()).await;
        b.click("form[action='/device'] button[type=submit]").await;
        // The consent page of the other flows, for the device.
        b.find_with_text("h1", "Cabinet Hook").await;
        assert_eq!(b.text("#device-code").await, user_code);
        let perms = b.text(".permissions").await;
        assert!(perms.contains("submit_score") && !perms.contains("customise_session"), "{perms}");
        b.click("button[value=approve]").await;
        b.find_with_text("#done-title", "now has its key").await;
        assert!(b.text("main").await.contains("no file to download"), "{}", b.text("main").await);
        b.screenshot("device-done").await;
        b.close().await;
    };
    let (token, ()) = tokio::join!(polling, approving);
    let token = token.expect("the key, once the player approved");
    assert_eq!(token.scopes().unwrap()[0].as_str(), "submit_score");
    let key = token.access_token().secret();

    // The key is the player's, for this client, as the code grant's keys are.
    let status = expect_ok(server.with_key(Method::GET, "/status", key).send().await.unwrap()).await;
    assert_eq!(status["whoami"], player.id);
    assert_eq!(status["permissions"], json!(["submit_score"]));
    let keys = player.keys().await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert_eq!(keys[0]["fromOAuth2Client"], hook.id.as_str());
    assert_eq!(keys[0]["identifier"], "Cabinet Hook Token");
}

#[tokio::test]
async fn each_error_code_of_the_device_grant() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = bridge(&author).await;
    let (_, http) = person(&server, "player").await;

    // The client authenticates as at the token endpoint.
    let wrong = ApiClient { secret: "CSwrong".into(), ..client.clone() };
    expect_oauth_error(start(&server, &wrong, &[]).await, StatusCode::UNAUTHORIZED, "invalid_client").await;
    let res = start(&server, &client, &[("scope", "delete_score")]).await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_scope").await;

    let d = started(&server, &client).await;
    let device_code = d["device_code"].as_str().unwrap();
    // Right away: pending. Again at once: too fast.
    let res = poll(&server, &client, device_code).await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "authorization_pending").await;
    let res = poll(&server, &client, device_code).await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "slow_down").await;
    let res = poll(&server, &client, device_code).await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "slow_down").await;
    // Unknown, missing, or another client's device code.
    let res = poll(&server, &client, "0123456789abcdef0123456789abcdef01234567").await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let res = poll(&server, &client, "").await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_request").await;
    let other = bridge(&author).await;
    expect_oauth_error(poll(&server, &other, device_code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // The player declines: the device is told so.
    let declined = answer(&server, &http, d["user_code"].as_str().unwrap(), "decline").await;
    assert!(declined.contains("You declined"), "{declined}");
    expect_oauth_error(poll(&server, &client, device_code).await, StatusCode::BAD_REQUEST, "access_denied").await;

    // A client that does not allow the device grant.
    let code_only = server.client_of(&author, &["submit_score"]).await;
    assert_eq!(code_only.doc["grants"], json!(["authorization_code"]));
    let res = start(&server, &code_only, &[]).await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "unauthorized_client").await;
    let res = poll(&server, &code_only, device_code).await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "unauthorized_client").await;
}

#[tokio::test]
async fn codes_ignore_case_and_dashes_and_wrong_ones_are_limited() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = bridge(&author).await;
    let (_, http) = person(&server, "player").await;
    let d = started(&server, &client).await;
    let user_code = d["user_code"].as_str().unwrap();
    assert!(d["verification_uri_complete"].as_str().unwrap().ends_with(&format!("/device?user_code={user_code}")));

    let (status, page) = enter_code(&server, &http, &format!(" {} ", user_code.replace('-', "").to_lowercase())).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Score Bridge") && page.contains(user_code), "{page}");

    // Wrong codes: said so, then refused for a while, even the right one.
    for wrong in ["BBBB-BBBB", "not a code"] {
        let (status, page) = enter_code(&server, &http, wrong).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(page.contains("No program is waiting for this code"), "{page}");
    }
    for _ in 0..8 {
        assert_eq!(enter_code(&server, &http, "BBBB-BBBB").await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(enter_code(&server, &http, user_code).await.0, StatusCode::TOO_MANY_REQUESTS);
    // The address is limited too: another session from it fares no better.
    let (_, other) = person(&server, "neighbour").await;
    assert_eq!(enter_code(&server, &other, user_code).await.0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn concurrent_polls_after_approval_give_one_key() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = bridge(&author).await;
    let (player, http) = person(&server, "player").await;
    let d = started(&server, &client).await;
    let device_code = d["device_code"].as_str().unwrap();
    let done = answer(&server, &http, d["user_code"].as_str().unwrap(), "approve").await;
    assert!(done.contains("now has its key"), "{done}");

    const POLLS: usize = 20;
    let answers = futures::future::join_all((0..POLLS).map(|_| poll(&server, &client, device_code))).await;
    let mut keys = Vec::new();
    for res in answers {
        match res.status() {
            StatusCode::OK => {
                keys.push(res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned())
            }
            _ => {
                expect_oauth_error(res, StatusCode::BAD_REQUEST, "invalid_grant").await;
            }
        }
    }
    assert_eq!(keys.len(), 1, "{POLLS} concurrent polls of one approved device code gave {} keys", keys.len());
    assert_eq!(player.keys().await.len(), 1);
    expect_oauth_error(poll(&server, &client, device_code).await, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let status = expect_ok(server.with_key(Method::GET, "/status", &keys[0]).send().await.unwrap()).await;
    assert_eq!(status["whoami"], player.id);
}

#[tokio::test]
async fn an_expired_device_code_is_expired_token() {
    let server = TestServer::start_with(|a| a.device_code_lifetime = 1).await;
    let author = server.register("author").await;
    let client = bridge(&author).await;
    let (_, http) = person(&server, "player").await;
    let d = started(&server, &client).await;
    assert_eq!(d["expires_in"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let res = poll(&server, &client, d["device_code"].as_str().unwrap()).await;
    expect_oauth_error(res, StatusCode::BAD_REQUEST, "expired_token").await;
    let (status, page) = enter_code(&server, &http, d["user_code"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("No program is waiting for this code"), "{page}");
}

#[tokio::test]
async fn the_metadata_advertises_the_device_grant() {
    let server = TestServer::start().await;
    let meta: Value = server
        .anonymous()
        .get(server.url("/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["device_authorization_endpoint"], server.url("/oauth/device_authorization"));
    let grants = meta["grant_types_supported"].as_array().unwrap();
    assert!(grants.contains(&json!(DEVICE_GRANT)) && grants.contains(&json!("authorization_code")), "{meta}");
}

#[tokio::test]
async fn clients_choose_their_grants() {
    let server = TestServer::start().await;
    let author = server.register("author").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    assert_eq!(client.doc["grants"], json!(["authorization_code"]));
    let body = json!({ "name": "Hook", "permissions": ["submit_score"], "grants": ["implicit"] });
    let why = expect_err(author.post("/clients/create", body).await, StatusCode::BAD_REQUEST).await;
    assert!(why.contains("implicit"), "{why}");
    let body = json!({ "name": "Hook", "permissions": ["submit_score"], "grants": [] });
    expect_err(author.post("/clients/create", body).await, StatusCode::BAD_REQUEST).await;

    let path = format!("/clients/{}", client.id);
    let edited = expect_ok(author.patch(&path, json!({ "grants": ["device_code", "authorization_code"] })).await).await;
    assert_eq!(edited["grants"], json!(["authorization_code", "device_code"]));
    expect_err(author.patch(&path, json!({ "grants": ["password"] })).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        expect_ok(server.anonymous().get(server.api(&path)).send().await.unwrap()).await["grants"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A device-only client cannot use the authorization endpoint.
    expect_ok(author.patch(&path, json!({ "grants": ["device_code"] })).await).await;
    let (_, http) = person(&server, "player").await;
    let res = http
        .get(authorize_url(&server, &client.id, &[("redirect_uri", REDIRECT), ("state", "s")]))
        .send()
        .await
        .unwrap();
    let back = location(&res);
    assert_eq!(query_param(&back, "error").as_deref(), Some("unauthorized_client"), "{back}");
}
