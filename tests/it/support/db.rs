//! A fresh database per test server: a SQLite file in a temporary folder,
//! or a new database on the PostgreSQL server named by `TEST_DATABASE_URL`.

use tempfile::TempDir;

pub struct TestDatabase {
    pub url: String,
    _dir: Option<TempDir>,
    /// For a PostgreSQL database: the server to drop it from when done.
    drop_from: Option<(String, String)>,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        match std::env::var("TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) {
            Some(server) if server.starts_with("postgres") => postgres_database(&server).await,
            _ => {
                let dir = tempfile::tempdir().expect("a temporary folder");
                let url = format!("sqlite://{}", dir.path().join("tachi-auth.db").display());
                TestDatabase { url, _dir: Some(dir), drop_from: None }
            }
        }
    }

    /// A handle for a second instance on a database another handle owns.
    pub fn shared() -> TestDatabase {
        TestDatabase { url: String::new(), _dir: None, drop_from: None }
    }
}

/// Creates `tachi_test_<random>` on the server and returns its URL.
async fn postgres_database(server: &str) -> TestDatabase {
    use sqlx::Connection;
    let name = format!("tachi_test_{}", tachi_auth::domain::secret::random_id("").get(..16).unwrap());
    let mut admin = sqlx::PgConnection::connect(server).await.expect("TEST_DATABASE_URL is reachable");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create a test database");
    let mut url = url::Url::parse(server).expect("TEST_DATABASE_URL is a URL");
    url.set_path(&name);
    TestDatabase { url: url.to_string(), _dir: None, drop_from: Some((server.to_owned(), name)) }
}

impl Drop for TestDatabase {
    /// Drops the PostgreSQL database (terminating the stopped server's
    /// lingering connections), so a shared test server does not fill up.
    fn drop(&mut self) {
        let Some((server, name)) = self.drop_from.take() else { return };
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut admin) = sqlx::PgConnection::connect(&server).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin).await;
                }
            });
        })
        .join();
    }
}

/// Runs one statement on the database at `url` (either engine), from
/// outside the server: what another process, or an operator, would do.
pub async fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("sqlite") {
        let mut db = sqlx::SqliteConnection::connect(url).await.expect("the test database opens");
        sqlx::query(sql).execute(&mut db).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.expect("the test database opens");
        sqlx::query(sql).execute(&mut db).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl TestDatabase {
    /// A database the test made itself (e.g. a backup's copy), left in place.
    pub fn at(url: String) -> TestDatabase {
        TestDatabase { url, _dir: None, drop_from: None }
    }
}
