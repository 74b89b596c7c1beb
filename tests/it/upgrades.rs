//! Upgrades: a database an older tachi-auth wrote keeps working when this one
//! starts on it. The data is written as the schema of migration 0003 holds it
//! (before 0004 moved a key's link to its code onto the code, 0005 replaced
//! the index keys are listed by, and 0006 gave tokens their key's id); the
//! server then migrates it. An instance of the version before 0014 still
//! running beside an upgraded one goes on hearing of credential changes.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::Value;
use tachi_auth::domain::secret::{random_id, time_ordered_id};
use tachi_auth::domain::{PlainSecret, SecretHash, password};

use crate::oauth_standard::introspect;
use crate::support::db::TestDatabase;
use crate::support::{ANOTHER_PROCESS_WITHIN, ApiClient, PASSWORD, REDIRECT, TestServer, expect_err, expect_ok};

/// The last migration the "older version" had applied.
const OLDER_VERSION: i64 = 3;

#[tokio::test]
async fn keys_codes_and_accounts_from_before_an_upgrade_keep_working() {
    let db = TestDatabase::create().await;
    let old = OlderDatabase::migrate(&db.url, OLDER_VERSION).await;

    // What the older version had stored: a player, an integration's client,
    // a code already redeemed for a key (linked the old way, from the key),
    // a key the player made by hand, and a code not yet redeemed.
    let now = tachi_auth::domain::now_ms();
    let (client_secret, redeemed_code, live_code) = ("CSolder-client-secret", "older-redeemed-code", "older-live-code");
    let (oauth_token, own_token, revoked_token) = (older_token(), older_token(), older_token());
    let password_hash = password::hash(PASSWORD).unwrap();
    let oauth_key = time_ordered_id("AK");
    let own_key = time_ordered_id("AK");
    let revoked_key = time_ordered_id("AK");
    let older_rows = [
        format!(
            "INSERT INTO users (id, username, username_key, email, password_hash, created_at) \
             VALUES (7, 'OldPlayer', 'oldplayer', 'old@example.org', '{password_hash}', {now})"
        ),
        format!(
            "INSERT INTO clients (client_id, secret_hash, name, author_id, redirect_uri, permissions, created_at) \
             VALUES ('CIolderclient', {}, 'Old Hook', 7, '{REDIRECT}', 1, {now})",
            old.blob(&hash(client_secret))
        ),
        format!(
            "INSERT INTO auth_codes (code_hash, user_id, client_id, redirect_uri, permissions, created_at, expires_at, used_at) \
             VALUES ({}, 7, 'CIolderclient', '{REDIRECT}', 1, {now}, {}, {now})",
            old.blob(&hash(redeemed_code)),
            now + 600_000
        ),
        format!(
            "INSERT INTO auth_codes (code_hash, user_id, client_id, redirect_uri, permissions, created_at, expires_at) \
             VALUES ({}, 7, 'CIolderclient', '{REDIRECT}', 1, {now}, {})",
            old.blob(&hash(live_code)),
            now + 600_000
        ),
        format!(
            "INSERT INTO api_keys (id, token_hash, user_id, identifier, permissions, client_id, from_code_hash, created_at) \
             VALUES ('{oauth_key}', {}, 7, 'Old Hook Token', 1, 'CIolderclient', {}, {now})",
            old.blob(&hash(&oauth_token)),
            old.blob(&hash(redeemed_code))
        ),
        format!(
            "INSERT INTO api_keys (id, token_hash, user_id, identifier, permissions, created_at) \
             VALUES ('{own_key}', {}, 7, 'made by hand', 1, {})",
            old.blob(&hash(&own_token)),
            now + 1
        ),
        format!(
            "INSERT INTO api_keys (id, token_hash, user_id, identifier, permissions, client_id, created_at) \
             VALUES ('{revoked_key}', {}, 7, 'Old Hook Token', 1, 'CIolderclient', {})",
            old.blob(&hash(&revoked_token)),
            now + 2
        ),
    ];
    old.run(&older_rows).await;

    // The upgrade: this version starts on the database and migrates it.
    let server = TestServer::start_on_database(db.url.clone(), |_| {}).await;
    let client = ApiClient {
        id: "CIolderclient".into(),
        secret: client_secret.into(),
        doc: serde_json::json!({ "redirectUri": REDIRECT }),
    };

    // A client from before grants were chosen allows the code grant only.
    let doc = expect_ok(server.anonymous().get(server.api("/clients/CIolderclient")).send().await.unwrap()).await;
    assert_eq!(doc["grants"], serde_json::json!(["authorization_code"]));

    // The player logs in with the old password and sees the keys, oldest first.
    let player = server.login("OldPlayer").await;
    let ids: Vec<Value> = player.keys().await.iter().map(|k| k["id"].clone()).collect();
    assert_eq!(ids, [oauth_key.as_str(), own_key.as_str(), revoked_key.as_str()].map(Value::from));
    // Their tokens (40 digits, without their key's id) still work, and the
    // client still introspects and revokes the ones it obtained.
    server.key_answers(&oauth_token, StatusCode::OK).await;
    server.key_answers(&own_token, StatusCode::OK).await;
    server.key_answers(&revoked_token, StatusCode::OK).await;
    assert_eq!(introspect(&server, &client, &oauth_token).await["active"], true);
    let res = server
        .anonymous()
        .post(server.url("/oauth/revoke"))
        .basic_auth(&client.id, Some(&client.secret))
        .form(&[("token", revoked_token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.key_answers(&revoked_token, StatusCode::UNAUTHORIZED).await;

    // The code approved before the upgrade is still redeemable, once, for a
    // key of today's kind.
    let issued = expect_ok(server.exchange(&client, live_code).await).await;
    let token = issued["token"].as_str().unwrap();
    server.key_answers(token, StatusCode::OK).await;
    assert_eq!(token.len(), 80);
    assert!(player.keys().await.iter().any(|k| k["id"] == format!("AK{}", &token[..40]).as_str()));

    // The code redeemed before the upgrade, presented again, is a replay: the
    // key it issued is revoked, found through the link 0004 carried over.
    expect_err(server.exchange(&client, redeemed_code).await, StatusCode::NOT_FOUND).await;
    server.key_answers(&oauth_token, StatusCode::UNAUTHORIZED).await;
    server.key_answers(&own_token, StatusCode::OK).await;
}

/// Migration 0014 renamed what carries credential changes between
/// processes: on SQLite the counter `key_revocations` became
/// `credential_changes`, on PostgreSQL the channel `tachi_auth_key_revocations`
/// became `tachi_auth_credential_changes`. A process of the version before it,
/// still running on the database during a rolling upgrade, reads the old
/// name: it must still see a key revoked through an upgraded server, or it
/// would go on accepting that key from its cache.
#[tokio::test]
async fn an_instance_of_the_version_before_the_rename_still_hears_of_revocations() {
    let db = TestDatabase::create().await;
    OlderDatabase::migrate(&db.url, 13).await.run(&[]).await;
    let server = TestServer::start_on_database(db.url.clone(), |_| {}).await;
    let player = server.register("player").await;
    let key = player.personal_key(&["submit_score"]).await;
    let id = player.keys().await[0]["id"].as_str().unwrap().to_owned();
    let revoke = || async { expect_ok(player.delete(&format!("/users/{}/api-tokens/{id}", player.id)).await).await };

    if db.url.starts_with("postgres") {
        // What the older version listens on.
        let mut older = sqlx::postgres::PgListener::connect(&db.url).await.unwrap();
        older.listen("tachi_auth_key_revocations").await.unwrap();
        revoke().await;
        let heard = tokio::time::timeout(ANOTHER_PROCESS_WITHIN, older.recv()).await;
        assert!(matches!(heard, Ok(Ok(_))), "the older instance was not told: {heard:?}");
    } else {
        // What the older version polls.
        let older = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let counter = || async {
            sqlx::query_scalar::<_, i64>("SELECT epoch FROM key_revocations WHERE id = 1")
                .fetch_one(&older)
                .await
                .unwrap()
        };
        let before = counter().await;
        revoke().await;
        assert!(counter().await > before, "the older instance's counter did not move");
        older.close().await;
    }
    server.key_answers(&key, StatusCode::UNAUTHORIZED).await;
}

/// The test's database at an older version, written with plain SQL, as the
/// older version's own statements would have.
enum OlderDatabase {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl OlderDatabase {
    /// Applies this repository's migrations up to `version` only (the server
    /// applies the rest, recognising these by their checksums).
    async fn migrate(url: &str, version: i64) -> OlderDatabase {
        let (old, engine) = if url.starts_with("postgres") {
            (OlderDatabase::Postgres(sqlx::PgPool::connect(url).await.unwrap()), "postgres")
        } else {
            let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            (
                OlderDatabase::Sqlite(sqlx::SqlitePool::connect_with(opts.create_if_missing(true)).await.unwrap()),
                "sqlite",
            )
        };
        let older = tempfile::tempdir().unwrap();
        let all = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(engine);
        for entry in std::fs::read_dir(all).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let number: i64 = name.split('_').next().unwrap().parse().unwrap();
            if number <= version {
                std::fs::copy(&path, older.path().join(name)).unwrap();
            }
        }
        let migrator = sqlx::migrate::Migrator::new(older.path()).await.unwrap();
        match &old {
            OlderDatabase::Sqlite(p) => migrator.run(p).await.unwrap(),
            OlderDatabase::Postgres(p) => migrator.run(p).await.unwrap(),
        }
        old
    }

    /// A BLOB/bytea literal.
    fn blob(&self, bytes: &[u8]) -> String {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self {
            OlderDatabase::Sqlite(_) => format!("X'{hex}'"),
            OlderDatabase::Postgres(_) => format!("'\\x{hex}'::bytea"),
        }
    }

    /// Runs the statements, then lets the database go.
    async fn run(self, statements: &[String]) {
        for sql in statements {
            match &self {
                OlderDatabase::Sqlite(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
                OlderDatabase::Postgres(p) => sqlx::query(sql).execute(p).await.map(|_| ()),
            }
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        match self {
            OlderDatabase::Sqlite(p) => p.close().await,
            OlderDatabase::Postgres(p) => p.close().await,
        }
    }
}

fn hash(secret: &str) -> Vec<u8> {
    let h: SecretHash = PlainSecret::from_presented(secret).hash();
    h.as_bytes().to_vec()
}

/// A token as the older version made them: 40 random hex digits.
fn older_token() -> String {
    random_id("")
}
