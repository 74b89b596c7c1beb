//! Moving from Tachi: `tachi-auth import --from DIR` of mongoexport's files,
//! run as the operator runs it (the real binary), then a server on the
//! database it wrote. Players log in with their Tachi passwords, hooks keep
//! their keys, integrations keep their client ids and secrets.

use std::path::Path;
use std::process::Stdio;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tachi_auth::domain::User;
use tachi_auth::storage::Store;

use crate::support::db::TestDatabase;
use crate::support::tachi::{self, Format};
use crate::support::{ApiClient, PASSWORD, REDIRECT, TestServer, expect_err, expect_ok};

/// Low, for speed: the format (`$2a$NN$…`) and its verification are those of cost 12.
const BCRYPT_COST: u32 = 4;
const ADMIN_PASSWORD: &str = "the admin's own password";
/// Tachi's longest username: 21 characters.
const LONG_NAME: &str = "a_twenty_one_chars_xx";

/// What the operator sees of one run of the command.
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// The report's line for `what` ("users", "API clients", "API keys").
    fn counts(&self, what: &str) -> String {
        let line = self.stdout.lines().find(|l| l.trim_start().starts_with(&format!("{what} "))).unwrap_or_else(|| {
            panic!("no line for {what} in:\n{}", self.output());
        });
        line[line.find(what).unwrap() + what.len()..].split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// Runs `tachi-auth import --from DIR --database-url URL FLAGS…`.
async fn import(database_url: &str, dir: &Path, flags: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_tachi-auth"));
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TACHI_AUTH_")) {
        command.env_remove(name);
    }
    let out = command
        .arg("import")
        .arg("--from")
        .arg(dir)
        .args(["--database-url", database_url])
        .args(flags)
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the binary runs");
    Run {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A small Tachi instance: an admin who wrote an integration, a player with
/// keys from it, from a built-in hook and from a client since deleted, a
/// player with Tachi's longest name and a banned one.
struct Instance {
    dir: tempfile::TempDir,
    client: ApiClient,
    /// The player's keys: from the client, from the hook, made by hand,
    /// from the deleted client; and the banned player's.
    keys: [String; 5],
    /// Everything secret the files hold, which no output may show.
    secrets: Vec<String>,
}

fn instance(format: Format) -> Instance {
    let dir = tempfile::tempdir().unwrap();
    let joined = 1_622_548_800_000;
    let mut admin = tachi::user(format, 1, "zkldi", joined);
    admin["authLevel"] = tachi::int(format, 3);
    admin["badges"] = json!(["dev-team"]);
    admin["customPfpLocation"] = json!("pfp/1.png");
    admin["isSupporter"] = json!(true);
    let mut banned = tachi::user(format, 4, "Cheater", joined);
    banned["authLevel"] = tachi::int(format, 0);
    tachi::write(
        dir.path(),
        "users.json",
        [admin, tachi::user(format, 2, "PlayerB", joined), tachi::user(format, 3, LONG_NAME, joined), banned],
    );

    let hashes = [ADMIN_PASSWORD, PASSWORD, PASSWORD, PASSWORD].map(|p| tachi::bcrypt_hash(p, BCRYPT_COST));
    let emails = ["zkldi@example.org", "b@example.org", "long@example.org", "cheater@example.org"];
    tachi::write(
        dir.path(),
        "user-private-information.json",
        (0..4).map(|i| tachi::private(format, i as i64 + 1, emails[i], &hashes[i])),
    );

    let client = ApiClient {
        id: format!("CI{}", tachi::random20hex()),
        secret: format!("CS{}", tachi::random20hex()),
        doc: json!({ "redirectUri": REDIRECT }),
    };
    let template = "{\"apiKey\": \"%%TACHI_KEY%%\"}";
    tachi::write(
        dir.path(),
        "api-clients.json",
        [
            tachi::client(
                1,
                &client.id,
                &client.secret,
                "Epic Stats",
                1,
                &["submit_score", "customise_profile"],
                Some(REDIRECT),
                Some((template, "epic-stats.json")),
            ),
            // A built-in client of Tachi's, as its start-up writes it (author 1).
            tachi::client(
                2,
                "CXKsHook",
                &format!("CS{}", tachi::random20hex()),
                "Konaste Hook",
                1,
                &["submit_score"],
                None,
                Some((template, "kamaitachi.kshook.json")),
            ),
        ],
    );

    let keys = [(); 5].map(|_| tachi::random20hex());
    let deleted_client = format!("CI{}", "0".repeat(40));
    tachi::write(
        dir.path(),
        "api-tokens.json",
        [
            tachi::token(
                format,
                1,
                2,
                &keys[0],
                "Epic Stats Token",
                &["submit_score", "customise_profile"],
                Some(&client.id),
            ),
            tachi::token(format, 2, 2, &keys[1], "Konaste Hook", &["submit_score"], Some("CXKsHook")),
            tachi::token(format, 3, 2, &keys[2], "Custom Token", &["customise_profile"], None),
            tachi::token(format, 4, 2, &keys[3], "Gone Token", &["submit_score"], Some(&deleted_client)),
            tachi::token(format, 5, 4, &keys[4], "Custom Token", &["submit_score"], None),
        ],
    );
    let mut secrets: Vec<String> = keys.to_vec();
    secrets.extend(hashes);
    secrets.push(client.secret.clone());
    Instance { dir, client, keys, secrets }
}

async fn store(url: &str) -> Store {
    Store::connect(url, &Default::default()).await.unwrap()
}

async fn stored_user(url: &str, username: &str) -> Option<User> {
    let store = store(url).await;
    let user = store.user_by_username_key(&username.to_lowercase()).await.unwrap();
    store.close().await;
    user
}

async fn user_count(url: &str) -> usize {
    let store = store(url).await;
    let mut n = 0;
    store.each_user(|_, _| n += 1).await.unwrap();
    store.close().await;
    n
}

async fn whoami(server: &TestServer, key: &str) -> reqwest::Response {
    server.with_key(Method::GET, "/status", key).send().await.unwrap()
}

/// The Client File Flow's pages, as a browser uses them: the page, then its
/// form; returns the key in the file it offers.
async fn client_file_flow(server: &TestServer, player: &crate::support::User, client_id: &str) -> String {
    let page = server.url(&format!("/client-file-flow/{client_id}"));
    let html = player.http.get(&page).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Epic Stats") && html.contains("zkldi"), "{html}");
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    let csrf = &html[at..at + html[at..].find('"').unwrap()];
    let res = player.http.post(&page).header("Origin", &server.base).form(&[("csrf", csrf)]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("download=\"epic-stats.json\""), "{html}");
    let at = html.find("base64,").unwrap() + 7;
    let file = base64::engine::general_purpose::STANDARD.decode(&html[at..at + html[at..].find('"').unwrap()]).unwrap();
    let file: Value = serde_json::from_slice(&file).unwrap();
    file["apiKey"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_imported_instance_keeps_its_accounts_clients_and_keys() {
    let tachi = instance(Format::Canonical);
    let db = TestDatabase::create().await;
    let run = import(&db.url, tachi.dir.path(), &[]).await;
    assert!(run.success, "{}", run.output());
    assert_eq!(run.counts("users"), "4 new, 0 already present");
    assert_eq!(run.counts("API clients"), "2 new, 0 already present");
    assert_eq!(run.counts("API keys"), "5 new, 0 already present");
    assert!(run.stdout.contains("api-tokens.json:4: its client CI0000"), "{}", run.output());
    for secret in &tachi.secrets {
        assert!(!run.output().contains(secret.as_str()), "a secret in the output:\n{}", run.output());
    }
    let before = stored_user(&db.url, "PlayerB").await.unwrap();
    assert!(before.password_hash.starts_with("$2a$04$"), "imported as it is");

    let server = TestServer::start_on_database(db.url.clone(), |_| {}).await;

    // Players log in with their Tachi passwords; the bcrypt hash is replaced at once.
    let player = server.login("PlayerB").await;
    assert_eq!(player.id, 2);
    let after = stored_user(&db.url, "PlayerB").await.unwrap();
    assert!(after.password_hash.starts_with("$argon2id$"), "{}", &after.password_hash[..10]);
    expect_ok(server.login_with(&server.browser(), "PlayerB", PASSWORD).await).await;
    expect_ok(server.login_with(&server.browser(), LONG_NAME, PASSWORD).await).await;
    expect_ok(server.login_with(&server.browser(), "zkldi", ADMIN_PASSWORD).await).await;
    expect_err(server.login_with(&server.browser(), "zkldi", PASSWORD).await, StatusCode::UNAUTHORIZED).await;
    expect_err(server.login_with(&server.browser(), "Cheater", PASSWORD).await, StatusCode::FORBIDDEN).await;

    // The profile came along.
    let admin = stored_user(&db.url, "zkldi").await.unwrap();
    assert!(admin.is_admin && admin.is_supporter && !admin.is_banned);
    assert_eq!((admin.email.as_str(), admin.created_at), ("zkldi@example.org", 1_622_548_800_000));
    assert_eq!(admin.last_seen, Some(1_622_548_800_000 + 86_400_000));
    assert_eq!(admin.badges, r#"["dev-team"]"#);
    assert_eq!(admin.social_media, r##"{"discord":"zkldi#0001","twitter":null}"##);
    assert_eq!(admin.custom_pfp_location.as_deref(), Some("pfp/1.png"));
    // The user document shows it, as Tachi's did, found by name as Tachi's clients ask.
    let profile = expect_ok(server.anonymous().get(server.api("/users/ZKLDI")).send().await.unwrap()).await;
    assert_eq!(profile["id"], 1);
    assert_eq!(profile["authLevel"], 3);
    assert_eq!(profile["badges"], json!(["dev-team"]));
    assert_eq!(profile["socialMedia"], json!({ "discord": "zkldi#0001", "twitter": null }));
    assert_eq!(profile["lastSeen"], 1_622_548_800_000i64 + 86_400_000);
    assert_eq!(profile["customPfpLocation"], "pfp/1.png");
    // A look-alike of an imported name is taken, as a new account's would be.
    let res = server.try_register("zk1di").await;
    expect_err(res, StatusCode::CONFLICT).await;

    // The keys hooks and bots hold answer as before, with their permissions.
    let status = expect_ok(whoami(&server, &tachi.keys[0]).await).await;
    assert_eq!(status["whoami"], 2);
    assert_eq!(status["permissions"], json!(["submit_score", "customise_profile"]));
    let res = server.with_key(Method::PATCH, "/users/2", &tachi.keys[0]).json(&json!({ "about": "moved" })).send();
    assert_eq!(expect_ok(res.await.unwrap()).await["about"], "moved");
    for key in &tachi.keys[1..4] {
        assert_eq!(expect_ok(whoami(&server, key).await).await["whoami"], 2);
    }
    expect_err(whoami(&server, &tachi.keys[4]).await, StatusCode::FORBIDDEN).await;
    let listed = player.keys().await;
    assert_eq!(listed.len(), 4);
    assert_eq!(listed[0]["fromOAuth2Client"], tachi.client.id.as_str());
    assert_eq!(listed[1]["fromOAuth2Client"], "CXKsHook");
    assert_eq!((&listed[2]["fromOAuth2Client"], &listed[3]["fromOAuth2Client"]), (&Value::Null, &Value::Null));

    // The integration's client: its page, the Client File Flow, and the
    // OAuth2 flow with the secret it has always had.
    let client =
        expect_ok(server.anonymous().get(server.api(&format!("/clients/{}", tachi.client.id))).send().await.unwrap())
            .await;
    assert_eq!((client["author"].clone(), client["apiKeyFilename"].clone()), (json!(1), json!("epic-stats.json")));
    let hook = expect_ok(server.anonymous().get(server.api("/clients/CXKsHook")).send().await.unwrap()).await;
    assert_eq!(hook["author"], Value::Null, "Tachi's built-in clients are built-in here too");
    let from_file = client_file_flow(&server, &player, &tachi.client.id).await;
    assert_eq!(expect_ok(whoami(&server, &from_file).await).await["whoami"], 2);
    let code = player.approve(&tachi.client).await;
    let issued = expect_ok(server.exchange(&tachi.client, &code).await).await;
    assert_eq!(issued["fromOAuth2Client"], tachi.client.id.as_str());
    let status = expect_ok(whoami(&server, issued["token"].as_str().unwrap()).await).await;
    assert_eq!(status["permissions"], json!(["submit_score", "customise_profile"]));
    let mut wrong = tachi.client.clone();
    wrong.secret = format!("CS{}", tachi::random20hex());
    let code = player.approve(&tachi.client).await;
    expect_err(server.exchange(&wrong, &code).await, StatusCode::FORBIDDEN).await;

    // New players get ids after Tachi's.
    assert_eq!(server.register("newcomer").await.id, 5);
}

#[tokio::test]
async fn invalid_documents_are_listed_and_nothing_is_written_unless_asked() {
    let dir = tempfile::tempdir().unwrap();
    let f = Format::Relaxed;
    let joined = 1_622_548_800_000;
    let mut nameless = tachi::user(f, 2, "x", joined);
    nameless.as_object_mut().unwrap().remove("username");
    let line = |v: Value| v.to_string();
    tachi::write_lines(
        dir.path(),
        "users.json",
        &[
            line(tachi::user(f, 1, "good", joined)),
            line(nameless),
            line(tachi::user(f, 3, "GOOD", joined)),
            "{ not json".into(),
        ],
    );
    let hash = tachi::bcrypt_hash(PASSWORD, BCRYPT_COST);
    tachi::write(
        dir.path(),
        "user-private-information.json",
        [tachi::private(f, 1, "good@example.org", &hash), tachi::private(f, 9, "nobody@example.org", &hash)],
    );
    let (id, secret) = (format!("CI{}", tachi::random20hex()), format!("CS{}", tachi::random20hex()));
    let other = format!("CI{}", tachi::random20hex());
    tachi::write(
        dir.path(),
        "api-clients.json",
        [
            tachi::client(1, &id, &secret, "Good Client", 1, &["submit_score"], Some(REDIRECT), None),
            tachi::client(2, &other, &secret, "Orphan Client", 99, &["submit_score"], Some(REDIRECT), None),
            tachi::client(3, "CIflying", &secret, "Flying Client", 1, &["fly"], None, None),
        ],
    );
    let (good_key, bad_key) = (tachi::random20hex(), tachi::random20hex());
    tachi::write(
        dir.path(),
        "api-tokens.json",
        [
            tachi::token(f, 1, 1, &good_key, "Good Client Token", &["submit_score"], Some(&id)),
            tachi::token(f, 2, 1, &bad_key, "Custom Token", &["fly"], None),
            tachi::token(f, 3, 3, &tachi::random20hex(), "Custom Token", &["submit_score"], None),
            tachi::token(f, 4, 1, &good_key, "Copied Token", &["submit_score"], None),
        ],
    );
    let expected = [
        "users.json:2: username is missing",
        "users.json:3: username 'GOOD' is taken by user 1 (line 1)",
        "users.json:4: not JSON",
        "user-private-information.json:2: userID 9 is not an importable user",
        "api-clients.json:2: author 99 is not an importable user",
        "api-clients.json:3: requestedPermissions: unknown permission 'fly'",
        "api-tokens.json:2: permissions: unknown permission 'fly'",
        "api-tokens.json:3: userID 3 is not an importable user",
        "api-tokens.json:4: its token is also the token of an earlier document",
    ];
    let db = TestDatabase::create().await;

    let run = import(&db.url, dir.path(), &[]).await;
    assert!(!run.success);
    for reason in expected {
        assert!(run.stdout.contains(reason), "{reason} not in:\n{}", run.output());
    }
    assert!(run.stderr.contains("9 invalid document(s): nothing was written"), "{}", run.output());
    assert!(run.stderr.contains("--skip-invalid"), "{}", run.output());
    assert!(!run.output().contains(&secret) && !run.output().contains(&bad_key) && !run.output().contains(&hash));
    assert_eq!(user_count(&db.url).await, 0);

    let run = import(&db.url, dir.path(), &["--dry-run", "--skip-invalid"]).await;
    assert!(run.success, "{}", run.output());
    assert!(run.stdout.contains("Would import") && run.stdout.contains("nothing was written"), "{}", run.output());
    assert_eq!(run.counts("users"), "1 new, 0 already present");
    assert_eq!(user_count(&db.url).await, 0);

    let run = import(&db.url, dir.path(), &["--skip-invalid"]).await;
    assert!(run.success, "{}", run.output());
    assert_eq!(run.counts("users"), "1 new, 0 already present");
    assert_eq!(run.counts("API clients"), "1 new, 0 already present");
    assert_eq!(run.counts("API keys"), "1 new, 0 already present");
    let server = TestServer::start_on_database(db.url.clone(), |_| {}).await;
    assert_eq!(server.login("good").await.id, 1);
    assert_eq!(expect_ok(whoami(&server, &good_key).await).await["whoami"], 1);
    expect_err(whoami(&server, &bad_key).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn importing_again_changes_nothing_and_says_so() {
    let tachi = instance(Format::Relaxed);
    let db = TestDatabase::create().await;
    assert!(import(&db.url, tachi.dir.path(), &[]).await.success);
    let server = TestServer::start_on_database(db.url.clone(), |_| {}).await;
    let player = server.login("PlayerB").await;
    expect_ok(player.patch("/users/2", json!({ "status": "moved in" })).await).await;
    let before = stored_user(&db.url, "PlayerB").await.unwrap();
    assert!(before.password_hash.starts_with("$argon2id$"));

    for flags in [&[][..], &["--dry-run"][..]] {
        let run = import(&db.url, tachi.dir.path(), flags).await;
        assert!(run.success, "{}", run.output());
        assert!(run.stdout.contains("Nothing new"), "{}", run.output());
        assert!(run.stdout.contains("already holds 4 user(s) of this export"), "{}", run.output());
        assert_eq!(run.counts("users"), "0 new, 4 already present");
        assert_eq!(run.counts("API clients"), "0 new, 2 already present");
        assert_eq!(run.counts("API keys"), "0 new, 5 already present");
    }
    // What changed since the first import stays changed: the upgraded hash, the status.
    let after = stored_user(&db.url, "PlayerB").await.unwrap();
    assert_eq!(after.password_hash, before.password_hash);
    assert_eq!(after.status.as_deref(), Some("moved in"));
    expect_ok(whoami(&server, &tachi.keys[0]).await).await;
    server.login("PlayerB").await;
}

#[tokio::test]
async fn a_database_with_users_of_its_own_is_refused() {
    let tachi = instance(Format::Relaxed);
    let server = TestServer::start().await;
    server.register("someone").await;
    let run = import(&server.database_url, tachi.dir.path(), &[]).await;
    assert!(!run.success, "{}", run.output());
    assert!(
        run.stderr.contains("refused: the database already has 1 user(s) that are not in this export (id 1 'someone')"),
        "{}",
        run.output()
    );
    assert!(run.stderr.contains("Nothing was written"), "{}", run.output());
    assert_eq!(user_count(&server.database_url).await, 1);
    expect_err(whoami(&server, &tachi.keys[0]).await, StatusCode::UNAUTHORIZED).await;
}

#[tokio::test]
async fn a_folder_without_the_export_is_named_clearly() {
    let dir = tempfile::tempdir().unwrap();
    tachi::write(dir.path(), "users.json", Vec::<Value>::new());
    let db = TestDatabase::create().await;
    let run = import(&db.url, dir.path(), &[]).await;
    assert!(!run.success);
    assert!(run.stderr.contains("user-private-information.json"), "{}", run.output());
    assert_eq!(user_count(&db.url).await, 0);
}
