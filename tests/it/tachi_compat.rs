//! Drop-in for a running Tachi: the original server's own clients (its
//! Discord bot above all) work unchanged, and where its clients can tell,
//! tachi-auth answers as the original does (zkrising/Tachi,
//! `server/src/server/router/api/v1/`, `utils/user.ts`, `utils/misc.ts`).

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::oauth_standard::{answer_consent, form_csrf, location, query_param};
use crate::support::{ApiClient, TestServer, User, expect_err, expect_ok};

/// Where the bot's HTTP server lives (`BotConfig.HTTP_SERVER.URL`); its
/// client's redirect URI is `${URL}/oauth/callback`.
const BOT_URL: &str = "https://bot.example";
const BOT_AGENT: &str = "Tachi-bot v3.0.0";

/// The user document's fields, exactly: Tachi's `UserDocument`.
const USER_DOCUMENT_FIELDS: [&str; 12] = [
    "about",
    "authLevel",
    "badges",
    "customBannerLocation",
    "customPfpLocation",
    "id",
    "joinDate",
    "lastSeen",
    "socialMedia",
    "status",
    "username",
    "usernameLowercase",
];

fn fields(doc: &Value) -> Vec<String> {
    let mut f: Vec<String> = doc.as_object().expect("an object").keys().cloned().collect();
    f.sort();
    f
}

/// The player opens the consent link at `link` and clicks "Yes"; returns
/// where the browser is sent.
async fn yes(server: &TestServer, player: &User, link: &str, client: &ApiClient) -> url::Url {
    let page = player.http.get(server.url(link)).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = form_csrf(&page.text().await.unwrap());
    let res = answer_consent(server, &player.http, &csrf, &client.id, "approve").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    location(&res)
}

/// `bot/src/server/server.ts`, `GET /oauth/callback`, step by step with the
/// requests `bot/src/utils/fetchTachi.ts` makes: the exchange is a JSON POST
/// with `Authorization: ""` (the bot has no key yet), then `GET /users/me?`
/// with the new key; the bot saves the link under `id` and `username`.
#[tokio::test]
async fn the_discord_bot_callback_replays_unchanged() {
    let server = TestServer::start().await;
    let player = server.register("playerB").await;
    let operator = server.register("botOperator").await;
    let redirect = format!("{BOT_URL}/oauth/callback");
    let bot = operator
        .create_client(json!({ "name": "Tachi Bot", "redirectUri": redirect, "permissions": ["customise_profile"] }))
        .await;

    // main.ts: the link the bot hands the Discord user.
    let discord_id = "283010294982574081";
    let link = format!("/oauth/request-auth?clientID={}&context={discord_id}", bot.id);
    let callback = yes(&server, &player, &link, &bot).await;
    assert_eq!(format!("{}://{}{}", callback.scheme(), callback.host_str().unwrap(), callback.path()), redirect);

    // The callback handler: code and context must be strings.
    let code = query_param(&callback, "code").expect("req.query.code");
    let context = query_param(&callback, "context").expect("req.query.context");
    assert_eq!(context, discord_id);

    // TachiServerV1Request(POST, "/oauth/token", null, {...}): JSON.stringify of the body, in its key order.
    let body = format!(
        r#"{{"code":{},"client_id":{},"client_secret":{},"grant_type":"authorization_code","redirect_uri":{}}}"#,
        json!(code),
        json!(bot.id),
        json!(bot.secret),
        json!(redirect)
    );
    let res = server
        .anonymous()
        .post(server.api("/oauth/token"))
        .header(CONTENT_TYPE, "application/json")
        .header(AUTHORIZATION, "")
        .header(USER_AGENT, BOT_AGENT)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let token_res: Value = res.json().await.unwrap();
    assert_eq!(token_res["success"], true, "tokenRes.success ({status}): {token_res}");
    let api_token = token_res["body"]["token"].as_str().expect("tokenRes.body.token").to_owned();
    assert_eq!(token_res["body"]["fromAPIClient"], json!(bot.id));

    // TachiServerV1Get("/users/me", apiToken): `${url}?${new URLSearchParams({})}`.
    let res = server
        .anonymous()
        .get(format!("{}?", server.api("/users/me")))
        .header(AUTHORIZATION, format!("Bearer {api_token}"))
        .header(USER_AGENT, BOT_AGENT)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let whoami_res: Value = res.json().await.unwrap();
    assert_eq!(whoami_res["success"], true, "whoamiRes.success ({status}): {whoami_res}");
    let user = &whoami_res["body"];
    assert_eq!(user["id"], player.id);
    assert_eq!(user["username"], "playerB");
    println!(
        "bot replay: POST /oauth/token -> {} \"{}\"; GET /users/me -> {status} \"{}\"; \
         Saving user-discord-link for {} (id: {}) with discordID {context}.",
        token_res["success"],
        token_res["description"].as_str().unwrap(),
        whoami_res["description"].as_str().unwrap(),
        user["username"].as_str().unwrap(),
        user["id"]
    );

    // The key the bot keeps works for what its client asked for.
    let res = server
        .with_key(Method::PATCH, "/users/me", &api_token)
        .json(&json!({ "status": "linked to Discord" }))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_ok(res).await["status"], "linked to Discord");
}

/// `ResolveUser`: digits are an id, anything else a username in any case,
/// `me` the caller by session or key.
#[tokio::test]
async fn a_profile_is_found_by_id_by_name_in_any_case_or_as_me() {
    let server = TestServer::start().await;
    let player = server.register("test_Zkldi").await;
    let key = player.personal_key(&["submit_score"]).await;
    let guest = server.anonymous();
    for form in [player.id.to_string(), "test_Zkldi".into(), "TeSt_ZklDI".into(), "test_zkldi".into()] {
        let doc = expect_ok(guest.get(server.api(&format!("/users/{form}"))).send().await.unwrap()).await;
        assert_eq!(doc["id"], player.id, "{form}");
    }
    let by_session = expect_ok(player.get("/users/me").await).await;
    assert_eq!(by_session["username"], "test_Zkldi");
    let by_key = expect_ok(server.with_key(Method::GET, "/users/me", &key).send().await.unwrap()).await;
    assert_eq!(by_key["id"], player.id);

    let d = expect_err(guest.get(server.api("/users/me")).send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
    assert_eq!(d, "Cannot use 'me' userID with no authentication.");
    let d = expect_err(guest.get(server.api("/users/someguy")).send().await.unwrap(), StatusCode::NOT_FOUND).await;
    assert_eq!(d, "The user someguy does not exist.");
    for nobody in ["424242", "0", "99999999999999999999999", "-1", "ME", "1.5"] {
        let res = guest.get(server.api(&format!("/users/{nobody}"))).send().await.unwrap();
        let d = expect_err(res, StatusCode::NOT_FOUND).await;
        assert!(d.contains("does not exist"), "{nobody}: {d}");
    }
}

/// Every `/users/:userID/...` route takes the same three forms, and refuses
/// `me` without authentication and an unknown user the same way.
#[tokio::test]
async fn every_user_route_takes_an_id_a_name_or_me() {
    let server = TestServer::start().await;
    let player = server.register("playerB").await;
    let other = server.register("other").await;
    let author = server.register("authorA").await;
    let client = server.client_of(&author, &["customise_profile"]).await;
    let key = player.personal_key(&["customise_profile"]).await;
    let forms = [player.id.to_string(), "playerB".into(), "PLAYERB".into(), "me".into()];

    for (i, form) in forms.iter().enumerate() {
        let users = format!("/users/{form}");
        let doc = expect_ok(player.patch(&users, json!({ "status": format!("form {i}") })).await).await;
        assert_eq!(doc["status"], format!("form {i}"), "{form}");
        let res = server.with_key(Method::PATCH, &users, &key).json(&json!({ "about": form })).send().await.unwrap();
        assert_eq!(expect_ok(res).await["about"], json!(form));

        let created =
            expect_ok(player.post(&format!("{users}/api-tokens/create"), json!({ "clientID": client.id })).await).await;
        assert_eq!(created["userID"], player.id, "{form}");
        let listed = expect_ok(player.get(&format!("{users}/api-tokens")).await).await;
        let listed = listed.as_array().unwrap();
        assert!(listed.iter().any(|k| k["id"] == created["id"]), "{form}: {listed:?}");
        let mine = expect_ok(
            player.post(&format!("{users}/api-tokens/create"), json!({ "permissions": ["submit_score"] })).await,
        )
        .await;
        expect_ok(player.delete(&format!("{users}/api-tokens/{}", mine["id"].as_str().unwrap())).await).await;
    }

    // The same paths, for someone else, an unknown user, and `me` as a guest.
    let guest = server.anonymous();
    let routes = |who: &str| {
        vec![
            (Method::PATCH, format!("/users/{who}"), Some(json!({ "about": "x" }))),
            (Method::GET, format!("/users/{who}/api-tokens"), None),
            (Method::POST, format!("/users/{who}/api-tokens/create"), Some(json!({ "permissions": ["submit_score"] }))),
            (Method::DELETE, format!("/users/{who}/api-tokens/AKnosuchkey"), None),
        ]
    };
    for (method, path, body) in routes("me") {
        let mut req = guest.request(method.clone(), server.api(&path));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let d = expect_err(req.send().await.unwrap(), StatusCode::UNAUTHORIZED).await;
        assert_eq!(d, "Cannot use 'me' userID with no authentication.", "{method} {path}");
    }
    for who in ["nosuchplayer", "424242"] {
        for (method, path, body) in routes(who) {
            let mut req = player.http.request(method.clone(), server.api(&path));
            if let Some(b) = &body {
                req = req.json(b);
            }
            let d = expect_err(req.send().await.unwrap(), StatusCode::NOT_FOUND).await;
            assert_eq!(d, format!("The user {who} does not exist."), "{method} {path}");
        }
    }
    for who in ["other".to_owned(), "OTHER".into(), other.id.to_string()] {
        for (method, path, body) in routes(&who) {
            let mut req = player.http.request(method.clone(), server.api(&path));
            if let Some(b) = &body {
                req = req.json(b);
            }
            expect_err(req.send().await.unwrap(), StatusCode::FORBIDDEN).await;
        }
    }
    assert!(other.keys().await.is_empty());
}

/// Register's answer and `GET /users/:userID` are Tachi's `UserDocument`,
/// `authLevel` its `UserAuthLevels` number; never the e-mail or the hash.
#[tokio::test]
async fn the_user_document_has_the_original_fields() {
    let server = TestServer::start().await;
    let res = server
        .anonymous()
        .post(server.api("/auth/register"))
        .json(&json!({ "username": "NewPlayer", "!password": crate::support::PASSWORD, "email": "np@example.org" }))
        .send()
        .await
        .unwrap();
    let registered = expect_ok(res).await;
    assert_eq!(fields(&registered), USER_DOCUMENT_FIELDS);
    let id = registered["id"].as_i64().unwrap();
    let doc = expect_ok(server.anonymous().get(server.api(&format!("/users/{id}"))).send().await.unwrap()).await;
    assert_eq!(fields(&doc), USER_DOCUMENT_FIELDS);
    assert_eq!(doc, registered);
    assert_eq!(doc["username"], "NewPlayer");
    assert_eq!(doc["usernameLowercase"], "newplayer");
    assert_eq!(doc["about"], "");
    assert_eq!(doc["status"], Value::Null);
    assert_eq!(doc["socialMedia"], json!({}));
    assert_eq!(doc["badges"], json!([]));
    assert_eq!(doc["customPfpLocation"], Value::Null);
    assert_eq!(doc["customBannerLocation"], Value::Null);
    assert_eq!(doc["authLevel"], 1);
    let joined = doc["joinDate"].as_i64().unwrap();
    let now = server.clock.now_ms();
    assert!((now - 60_000..=now).contains(&joined), "joinDate is unix ms: {joined}");
    assert_eq!(doc["lastSeen"], joined);
    let text = doc.to_string();
    assert!(!text.contains("np@example.org") && !text.contains("argon2"), "{text}");

    let level = |name: &'static str| {
        let http = server.anonymous();
        let url = server.api(&format!("/users/{name}"));
        async move { expect_ok(http.get(url).send().await.unwrap()).await["authLevel"].clone() }
    };
    server.set_user_flags("NewPlayer", Some(true), None).await;
    assert_eq!(level("NewPlayer").await, 3);
    server.ban("NewPlayer").await;
    assert_eq!(level("NewPlayer").await, 0, "a ban outranks admin");
    server.set_user_flags("NewPlayer", Some(false), Some(false)).await;
    assert_eq!(level("NewPlayer").await, 1);
}

/// `fromAPIClient` (the original's name) beside `fromOAuth2Client` (the
/// seeds'), equal, everywhere a key document appears.
#[tokio::test]
async fn key_documents_name_their_client_under_both_names() {
    let server = TestServer::start().await;
    let player = server.register("playerB").await;
    let author = server.register("authorA").await;
    let client = server.client_of(&author, &["customise_profile"]).await;

    // (A Client File Flow key replaces the player's earlier keys for its client: it comes first.)
    let personal = expect_ok(player.request_key(json!({ "permissions": ["submit_score"] })).await).await;
    let file_flow = expect_ok(player.request_key(json!({ "clientID": client.id })).await).await;
    let code = player.approve(&client).await;
    let exchanged = expect_ok(server.exchange(&client, &code).await).await;
    for (what, doc, from) in [
        ("token exchange", &exchanged, json!(client.id)),
        ("personal key", &personal, Value::Null),
        ("Client File Flow key", &file_flow, json!(client.id)),
    ] {
        assert_eq!(doc["fromAPIClient"], from, "{what}: {doc}");
        assert_eq!(doc["fromOAuth2Client"], from, "{what}: {doc}");
        assert!(doc["token"].is_string(), "{what}");
    }
    assert_eq!(exchanged["identifier"], "Epic Games Token", "<client name> Token, as the original's exchange");
    assert_eq!(personal["identifier"], "Custom Token", "the original's default");
    let listed = player.keys().await;
    assert_eq!(listed.len(), 3);
    for doc in &listed {
        assert!(doc.get("fromAPIClient").is_some(), "{doc}");
        assert_eq!(doc["fromAPIClient"], doc["fromOAuth2Client"], "{doc}");
        assert!(doc.get("token").is_none(), "the list never shows a token: {doc}");
    }
    assert_eq!(listed.iter().filter(|k| k["fromAPIClient"] == json!(client.id)).count(), 2);
}

/// A client document names its key file template under both names: the
/// seeds' `apiKeyFormat` and the original server's `apiKeyTemplate`.
#[tokio::test]
async fn a_client_document_names_its_template_under_both_names() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let template = r#"{"key": "%%TACHI_KEY%%"}"#;
    let client = author
        .create_client(json!({ "name": "Score Hook", "permissions": ["submit_score"], "webhookUri": null,
                               "redirectUri": null, "apiKeyTemplate": template, "apiKeyFilename": "hook.json" }))
        .await;
    let listed = expect_ok(author.get("/clients").await).await;
    let public =
        expect_ok(server.anonymous().get(server.api(&format!("/clients/{}", client.id))).send().await.unwrap()).await;
    for doc in [&client.doc, &listed[0], &public] {
        assert_eq!(doc["apiKeyTemplate"], template, "{doc}");
        assert_eq!(doc["apiKeyFormat"], template, "{doc}");
    }
    assert!(public.get("clientSecret").is_none());
    let cleared =
        expect_ok(author.patch(&format!("/clients/{}", client.id), json!({ "apiKeyTemplate": null })).await).await;
    assert_eq!(cleared["apiKeyTemplate"], Value::Null);
    assert_eq!(cleared["apiKeyFormat"], Value::Null);
}

/// `IsValidURL`: http, https, or `tachi-<name>:` for a program on the
/// player's computer; the consent page says so and "Yes" goes there.
#[tokio::test]
async fn a_redirect_uri_may_send_the_player_to_a_program_on_their_computer() {
    let server = TestServer::start().await;
    let player = server.register("playerB").await;
    let author = server.register("authorA").await;
    let draft =
        |redirect: &str| json!({ "name": "Score Hook", "redirectUri": redirect, "permissions": ["submit_score"] });

    for (redirect, link_context) in [("tachi-beatoraja://auth", Some("ctx 1")), ("tachi-hook2:", None)] {
        let client = author.create_client(draft(redirect)).await;
        assert_eq!(client.doc["redirectUri"], redirect);
        let link = match link_context {
            Some(c) => format!("/oauth/request-auth?clientID={}&context={}", client.id, c.replace(' ', "%20")),
            None => format!("/oauth/request-auth?clientID={}", client.id),
        };
        let page = player.http.get(server.url(&link)).send().await.unwrap().text().await.unwrap();
        let scheme = redirect.split(':').next().unwrap();
        assert!(page.contains("a program on your computer, not a website"), "{page}");
        assert!(page.contains(&format!("<strong class=\"host\">{scheme}:</strong>")), "{page}");

        let sent_to = yes(&server, &player, &link, &client).await;
        assert_eq!(sent_to.scheme(), scheme);
        assert!(sent_to.as_str().starts_with(&format!("{redirect}?code=")), "{sent_to}");
        assert_eq!(query_param(&sent_to, "context").as_deref(), link_context);
        let code = query_param(&sent_to, "code").unwrap();
        let key = expect_ok(server.exchange(&client, &code).await).await;
        assert_eq!(key["userID"], player.id);
    }

    // A website's consent page names the website, not a program.
    let web = server.client_of(&author, &["submit_score"]).await;
    let page = player.open_consent(&web).await.text().await.unwrap();
    assert!(!page.contains("program on your computer") && page.contains("integration.example"), "{page}");

    // Any other scheme is refused, on creation and on edit; webhooks stay http(s).
    let edit = format!("/clients/{}", web.id);
    for bad in [
        "myapp://cb",
        "tachi-:cb",
        "tachi_foo:cb",
        "tachi-foo-bar:cb",
        "tachi-fo.o:cb",
        "tachifoo:cb",
        "javascript:alert(1)",
        "data:text/html,hi",
        "file:///etc/passwd",
        "ftp://example.com/",
        "tachi-foo:cb#fragment",
    ] {
        let d = expect_err(author.post("/clients/create", draft(bad)).await, StatusCode::BAD_REQUEST).await;
        assert!(d.contains("redirectUri"), "{bad}: {d}");
        let d = expect_err(author.patch(&edit, json!({ "redirectUri": bad })).await, StatusCode::BAD_REQUEST).await;
        assert!(d.contains("redirectUri"), "{bad}: {d}");
    }
    let changed = expect_ok(author.patch(&edit, json!({ "redirectUri": "tachi-k8s:done" })).await).await;
    assert_eq!(changed["redirectUri"], "tachi-k8s:done");
    let hook = json!({ "name": "Score Hook", "webhookUri": "tachi-foo:hook", "permissions": ["submit_score"] });
    let d = expect_err(author.post("/clients/create", hook).await, StatusCode::BAD_REQUEST).await;
    assert!(d.contains("webhookUri"), "{d}");
}

/// A route that needs a logged-in session answers 401 without one, API key
/// or not (`req.session.tachi?.user`), and create-code too.
#[tokio::test]
async fn session_routes_answer_401_to_an_api_key() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let client = server.client_of(&author, &["customise_profile"]).await;
    let key = author.personal_key(&["customise_profile", "submit_score"]).await;
    let key_id = author.keys().await[0]["id"].as_str().unwrap().to_owned();
    let c = format!("/clients/{}", client.id);
    let routes = [
        (Method::GET, "/clients".to_owned(), None),
        (Method::POST, "/clients/create".into(), Some(json!({ "name": "Epic", "permissions": ["submit_score"] }))),
        (Method::PATCH, c.clone(), Some(json!({ "name": "Stolen" }))),
        (Method::POST, format!("{c}/reset-secret"), None),
        (Method::DELETE, c.clone(), None),
        (Method::GET, "/users/me/api-tokens".into(), None),
        (Method::POST, "/users/me/api-tokens/create".into(), Some(json!({ "permissions": ["delete_score"] }))),
        (Method::DELETE, format!("/users/me/api-tokens/{key_id}"), None),
        (Method::POST, "/oauth/create-code".into(), None),
    ];
    for (method, path, body) in routes {
        for key in [Some(key.as_str()), None] {
            let mut req = server.anonymous().request(method.clone(), server.api(&path));
            if let Some(k) = key {
                req = req.bearer_auth(k);
            }
            if let Some(b) = &body {
                req = req.json(b);
            }
            let res = req.send().await.unwrap();
            // `me` without any authentication is the user parameter's own 401.
            expect_err(res, StatusCode::UNAUTHORIZED).await;
        }
    }
    // Nothing changed: the client and the key are still there.
    assert_eq!(expect_ok(author.get(&c).await).await["name"], "Epic Games");
    assert_eq!(author.keys().await.len(), 1);
}

/// `POST /auth/logout` without a session is 409 "You are not logged in.".
#[tokio::test]
async fn logging_out_without_a_session_is_a_conflict() {
    let server = TestServer::start().await;
    let player = server.register("playerB").await;
    let key = player.personal_key(&["submit_score"]).await;
    let d = expect_err(server.anonymous().post(server.api("/auth/logout")).send().await.unwrap(), StatusCode::CONFLICT)
        .await;
    assert_eq!(d, "You are not logged in.");
    let res = server.with_key(Method::POST, "/auth/logout", &key).send().await.unwrap();
    expect_err(res, StatusCode::CONFLICT).await;
    expect_ok(player.post("/auth/logout", json!({})).await).await;
    expect_err(player.post("/auth/logout", json!({})).await, StatusCode::CONFLICT).await;
    expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
}

/// `DedupeArr` on a new client's permissions (and a key's), `PATCH
/// /clients/:id` with nothing to change, `about: null`, and the order of
/// the client routes' checks.
#[tokio::test]
async fn validation_matches_the_original() {
    let server = TestServer::start().await;
    let author = server.register("authorA").await;
    let dup = json!({ "name": "Dupes", "redirectUri": "https://x.example/cb",
                      "permissions": ["submit_score", "customise_profile", "submit_score"] });
    let client = author.create_client(dup).await;
    assert_eq!(client.doc["requestedPermissions"], json!(["submit_score", "customise_profile"]));
    let key = expect_ok(author.request_key(json!({ "permissions": ["delete_score", "delete_score"] })).await).await;
    assert_eq!(key["permissions"], json!({ "delete_score": true }));
    let d = expect_err(
        author.post("/clients/create", json!({ "name": "Dupes", "permissions": ["submit_score", "root"] })).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(d.contains("root"), "{d}");

    // The api-tokens route's own checks (its router.test.ts): clientID with
    // permissions, or neither, is 400; an identifier beside a clientID is ignored.
    for bad in [
        json!({ "clientID": client.id, "permissions": ["submit_score"], "identifier": "Hello World" }),
        json!({ "identifier": "Hello World" }),
        json!({ "permissions": ["submit_score", "invalid_permission"], "identifier": "Hello World" }),
    ] {
        expect_err(author.request_key(bad.clone()).await, StatusCode::BAD_REQUEST).await;
    }
    let named = expect_ok(author.request_key(json!({ "clientID": client.id, "identifier": "mine" })).await).await;
    assert_eq!(named["identifier"], "Dupes Token");
    assert_eq!(named["fromAPIClient"], json!(client.id));

    let path = format!("/clients/{}", client.id);
    for nothing in [json!({}), json!({ "name": null }), json!({ "name": null, "requirePKCE": null })] {
        let d = expect_err(author.patch(&path, nothing.clone()).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(d, "No changes to make.", "{nothing}");
    }
    // Null on a nullable field is a change: it clears it.
    let cleared = expect_ok(author.patch(&path, json!({ "redirectUri": null })).await).await;
    assert_eq!(cleared["redirectUri"], Value::Null);

    let d = expect_err(author.patch("/users/me", json!({ "about": null })).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(d, "Cannot set about me to null.");
    let d =
        expect_err(author.patch("/users/me", json!({ "about": null, "status": "x" })).await, StatusCode::BAD_REQUEST)
            .await;
    assert_eq!(d, "Cannot set about me to null.");
    assert_eq!(expect_ok(author.get("/users/me").await).await["status"], Value::Null);

    // An unknown client is 404 before the session is asked for; then 401, then 403.
    let guest = server.anonymous();
    for (method, p) in [
        (Method::PATCH, "/clients/CInosuchclient"),
        (Method::DELETE, "/clients/CInosuchclient"),
        (Method::POST, "/clients/CInosuchclient/reset-secret"),
    ] {
        let res = guest.request(method.clone(), server.api(p)).json(&json!({ "name": "Stolen" })).send().await.unwrap();
        expect_err(res, StatusCode::NOT_FOUND).await;
    }
    let res = guest.patch(server.api(&path)).json(&json!({ "name": "Stolen" })).send().await.unwrap();
    expect_err(res, StatusCode::UNAUTHORIZED).await;
    let other = server.register("other").await;
    expect_err(other.patch(&path, json!({ "name": "Stolen" })).await, StatusCode::FORBIDDEN).await;
}

/// An empty `Authorization` header (what the bot sends without a key) is no
/// authentication, as `IsNullishOrEmptyStr` has it: a guest, or the session.
#[tokio::test]
async fn an_empty_authorization_header_is_no_authentication() {
    let server = TestServer::start().await;
    let player = server.register("playerB").await;
    let res = server.anonymous().get(server.api("/status")).header(AUTHORIZATION, "").send().await.unwrap();
    assert_eq!(expect_ok(res).await["whoami"], Value::Null);
    let res = player.http.get(player.api("/status")).header(AUTHORIZATION, " ").send().await.unwrap();
    assert_eq!(expect_ok(res).await["whoami"], player.id);
}

/// A body that is there must be JSON, on the routes whose body is optional
/// too; an empty body is still none.
#[tokio::test]
async fn a_body_that_is_not_json_is_400_even_where_the_body_is_optional() {
    let server = TestServer::start().await;
    let player = server.register("playerB").await;
    let broken: [&[u8]; 4] = [b"\xff\xfe\xfd", b"{", b"echo=hi", b"{\"\xff\": 1}"];
    for body in broken {
        for content_type in [None, Some("application/json")] {
            for (http, path) in [(server.anonymous(), "/status"), (player.http.clone(), "/oauth/create-code")] {
                let mut req = http.post(server.api(path)).body(body.to_vec());
                if let Some(t) = content_type {
                    req = req.header(CONTENT_TYPE, t);
                }
                let d = expect_err(req.send().await.unwrap(), StatusCode::BAD_REQUEST).await;
                assert!(d.contains("not valid JSON"), "{path} {body:?} {content_type:?}: {d}");
            }
        }
    }
    let res = server.anonymous().post(server.api("/status")).body(r#"{"echo":"hi"}"#).send().await.unwrap();
    assert_eq!(expect_ok(res).await["echo"], "hi");
    let res = server.anonymous().post(server.api("/status")).send().await.unwrap();
    assert_eq!(expect_ok(res).await["echo"], Value::Null);
    let res = server
        .anonymous()
        .post(server.api("/status"))
        .header(CONTENT_TYPE, "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    expect_err(res, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let res = server.anonymous().post(server.api("/status")).header(CONTENT_TYPE, "text/plain").send().await.unwrap();
    expect_ok(res).await;
}

/// A route that needs a body: a JSON body is read without a Content-Type,
/// and no body at all is a 400 (the original's "Should reject empty updates").
#[tokio::test]
async fn a_body_without_a_content_type_is_read_as_json() {
    let server = TestServer::start().await;
    let player = server.register("playerB").await;
    let author = server.register("authorA").await;
    let client = server.client_of(&author, &["customise_profile"]).await;

    let d = expect_err(player.http.patch(player.api("/users/me")).send().await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert!(d.contains("empty"), "{d}");
    let res = player.http.patch(player.api("/users/me")).body(r#"{"status":"untyped"}"#).send().await.unwrap();
    assert_eq!(expect_ok(res).await["status"], "untyped");

    let code = player.approve(&client).await;
    let body = server.exchange_body(&client, &code).to_string();
    let res = server.anonymous().post(server.api("/oauth/token")).body(body).send().await.unwrap();
    assert_eq!(expect_ok(res).await["userID"], player.id);
    let res = server.anonymous().post(server.api("/oauth/token")).send().await.unwrap();
    expect_err(res, StatusCode::BAD_REQUEST).await;
}
