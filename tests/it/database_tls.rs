//! PostgreSQL over TLS, as managed PostgreSQL services demand: a server
//! started by the test with `ssl = on`, a certificate the test made, and
//! only `hostssl` entries in its pg_hba.conf.

use std::time::Duration;

use reqwest::Method;

use crate::support::binary::{RunningBinary, run};
use crate::support::db::TestDatabase;
use crate::support::expect_ok;
use crate::support::postgres::{PgCluster, TestCertificates};

/// A server on `url` serves a full flow: a key issued, then accepted.
async fn serves_on(url: String) {
    let mut binary = RunningBinary::start_with(&[], "warn", Some(TestDatabase::at(url))).await;
    let server = binary.helpers();
    let name = format!("p{}", rand_suffix());
    let author = server.register(&format!("{name}a")).await;
    let player = server.register(&name).await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let key = server.authorize(&player, &client).await;
    expect_ok(server.with_key(Method::GET, "/status", &key).send().await.unwrap()).await;
    binary.terminate(Duration::from_secs(30)).await.expect("it stops");
}

fn rand_suffix() -> String {
    tachi_auth::domain::secret::random_id("").chars().filter(char::is_ascii_lowercase).take(8).collect()
}

/// `sslmode=require` encrypts; `verify-full` with the CA given also checks
/// the certificate, and a certificate of another CA is refused at start,
/// saying why; a server that requires TLS refuses a client without it.
#[tokio::test]
async fn postgres_over_tls_is_required_verified_and_refused_without_it() {
    let certs = TestCertificates::make();
    let pg = PgCluster::start_tls_only(&certs);
    let base = pg.url();

    serves_on(format!("{base}?sslmode=require")).await;
    let verified = format!("{base}?sslmode=verify-full&sslrootcert={}", certs.ca.display());
    serves_on(verified.clone()).await;

    // Every connection the servers made was encrypted (pg_hba allows no other).
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&verified).await.unwrap();
    let plain: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_ssl WHERE NOT ssl AND pid IN \
         (SELECT pid FROM pg_stat_activity WHERE client_addr IS NOT NULL)",
    )
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(plain, 0);

    let wrong_ca = format!("{base}?sslmode=verify-full&sslrootcert={}", certs.other_ca.display());
    let out = run(&["serve", "--database-url", &wrong_ca, "--db-acquire-timeout-ms", "5000"], &[], None).await;
    assert!(!out.success, "a certificate of another CA was accepted");
    for part in ["cannot connect to the PostgreSQL database", "TLS", "certificate", "sslrootcert"] {
        assert!(out.stderr.contains(part), "{part:?} not in:\n{}", out.stderr);
    }

    let plain = format!("{base}?sslmode=disable");
    let out = run(&["serve", "--database-url", &plain, "--db-acquire-timeout-ms", "5000"], &[], None).await;
    assert!(!out.success, "a client without TLS was let in");
    assert!(out.stderr.contains("no encryption") && out.stderr.contains("pg_hba.conf"), "{}", out.stderr);
}
