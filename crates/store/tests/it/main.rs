//! The store conformance suite (`latchkey_store::conformance`), run against SQLite and
//! PostgreSQL, and what is particular to each backend.
//!
//! PostgreSQL runs on the development and CI machines (127.0.0.1:5432, user `postgres`).
//! Each run creates its own database and drops it afterwards. A missing server fails the
//! run, unless `LATCHKEY_SKIP_POSTGRES=1` says explicitly to skip it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod db;

mod sqlite {
    latchkey_store::conformance_tests!(crate::db::sqlite);
}

mod postgres {
    latchkey_store::conformance_tests!(crate::db::postgres);
}

/// On PostgreSQL the janitor runs on one instance at a time: while another session holds
/// its advisory lock, a run does nothing.
#[tokio::test]
async fn postgres_janitor_runs_on_one_instance_at_a_time() {
    let Some(db) = db::TestDb::postgres().await else { return };
    let url = db.url.clone();
    let store = db.store.clone();
    db.run(async move {
        let other = sqlx::PgPool::connect(&url).await.unwrap();
        let mut conn = other.acquire().await.unwrap();
        sqlx::query("SELECT pg_advisory_lock($1)").bind(0x6c6b_6a61_6e69_746f_i64).execute(&mut *conn).await.unwrap();
        assert!(
            !store
                .purge_expired(latchkey_store::PurgeBefore { expired_before: 0, audit_before: 0 }, 10, 1)
                .await
                .unwrap()
                .ran
        );
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(0x6c6b_6a61_6e69_746f_i64).execute(&mut *conn).await.unwrap();
        assert!(
            store
                .purge_expired(latchkey_store::PurgeBefore { expired_before: 0, audit_before: 0 }, 10, 1)
                .await
                .unwrap()
                .ran
        );
        drop(conn);
        other.close().await;
    })
    .await;
}

/// On SQLite the hot writes go through one writing task: closing the store finishes it,
/// and a write after that fails at once instead of waiting forever.
#[tokio::test]
async fn sqlite_writes_after_close_fail() {
    let db = db::TestDb::sqlite().await;
    let store = db.store.clone();
    db.run(async move {
        let hash = latchkey_protocol::secret::SecretHash::of("code");
        store.close().await;
        let refused = store.consume_code(&hash, &"user".into(), 1, &"fam".into(), None).await;
        assert!(matches!(refused, Err(latchkey_store::StoreError::Unavailable(_))), "{refused:?}");
    })
    .await;
}
