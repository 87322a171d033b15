//! Fresh databases for tests.

use std::future::Future;

use latchkey_store::{Store, StoreOptions};

/// Runs a conformance case on a fresh SQLite database.
pub async fn sqlite<F: Future<Output = ()> + Send + 'static>(case: impl FnOnce(Store) -> F) {
    let db = TestDb::sqlite().await;
    let store = db.store.clone();
    db.run(case(store)).await;
}

/// Runs a conformance case on a fresh PostgreSQL database (unless skipping was asked for).
pub async fn postgres<F: Future<Output = ()> + Send + 'static>(case: impl FnOnce(Store) -> F) {
    let Some(db) = TestDb::postgres().await else { return };
    let store = db.store.clone();
    db.run(case(store)).await;
}

pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

pub fn postgres_admin_url() -> String {
    std::env::var("LATCHKEY_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn unique_name() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("latchkey_test_{}_{}", std::process::id(), nanos)
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
        TestDb { store, url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A fresh PostgreSQL database, or `None` when skipping was asked for explicitly.
    pub async fn postgres() -> Option<TestDb> {
        if std::env::var("LATCHKEY_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            eprintln!("skipping PostgreSQL: LATCHKEY_SKIP_POSTGRES=1");
            return None;
        }
        let admin_url = postgres_admin_url();
        let name = unique_name();
        let admin = sqlx::PgPool::connect(&admin_url).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {admin_url} is required for these tests ({e}); set LATCHKEY_SKIP_POSTGRES=1 to skip them"
            )
        });
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        admin.close().await;
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("bad LATCHKEY_TEST_POSTGRES"),
        };
        let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
        Some(TestDb { store, url, cleanup: Cleanup::Postgres { admin_url, name } })
    }

    /// Runs a test body, then drops the database whether the body passed or panicked.
    pub async fn run<F: Future<Output = ()> + Send + 'static>(self, body: F) {
        let outcome = tokio::spawn(body).await;
        self.drop().await;
        if let Err(e) = outcome {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
            panic!("test task failed: {e}");
        }
    }

    async fn drop(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::Sqlite(dir) => drop(dir),
            Cleanup::Postgres { admin_url, name } => {
                let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
            }
        }
    }
}
