//! PostgreSQL goes away and comes back: requests fail fast with 503, the
//! readiness probe says so, and service resumes by itself. The test owns its
//! PostgreSQL server, so it runs whatever the suite's backend is.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};

use crate::support::postgres::PgCluster;
use crate::support::{TestServer, expect_err, expect_ok};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_get_503_while_postgres_is_down_and_service_resumes_after() {
    let pg = PgCluster::start();
    let server = TestServer::start_on_database(pg.url(), |a| a.database.db_acquire_timeout_ms = 1000).await;
    let author = server.register("author").await;
    let player = server.register("player").await;
    let client = server.client_of(&author, &["submit_score"]).await;
    let key = server.authorize(&player, &client).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    let status = |http: &reqwest::Client| http.get(server.api("/status")).bearer_auth(&key).send();
    expect_ok(status(&http).await.unwrap()).await;

    let session_status = || player.get("/status");
    expect_ok(session_status().await).await;

    pg.stop();
    // A bounded answer, never a hang: the client's 15 s timeout would fail the test.
    let down = Instant::now();
    let description = expect_err(session_status().await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(description.contains("database"), "{description}");
    let first_503 = down.elapsed();
    // The bearer cache stops answering once its revocation listener has lost
    // the database: nobody could tell it of a revocation any more.
    server.key_answers(&key, StatusCode::SERVICE_UNAVAILABLE).await;
    // Every later request too, including ones that would open new connections.
    for _ in 0..3 {
        expect_err(status(&http).await.unwrap(), StatusCode::SERVICE_UNAVAILABLE).await;
    }
    expect_err(server.with_key(Method::GET, "/status", &key).send().await.unwrap(), StatusCode::SERVICE_UNAVAILABLE)
        .await;
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    pg.resume();
    let up = Instant::now();
    loop {
        let res = status(&http).await.unwrap();
        if res.status() == StatusCode::OK {
            break;
        }
        assert!(up.elapsed() < Duration::from_secs(30), "service did not resume within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered = up.elapsed();
    assert_eq!(http.get(server.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    eprintln!("outage: first 503 after {first_503:?}; service back {recovered:?} after PostgreSQL restarted");
}
