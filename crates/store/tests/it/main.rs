//! The store conformance suite, run against SQLite and PostgreSQL.
//!
//! PostgreSQL runs on the development and CI machines (127.0.0.1:5432, user `postgres`).
//! Each run creates its own database and drops it afterwards. A missing server fails the
//! run, unless `LATCHKEY_SKIP_POSTGRES=1` says explicitly to skip it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

mod conformance;
mod db;

macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    let db = crate::db::TestDb::sqlite().await;
                    let store = db.store.clone();
                    db.run(async move { crate::conformance::$name(&store).await }).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    let Some(db) = crate::db::TestDb::postgres().await else { return };
                    let store = db.store.clone();
                    db.run(async move { crate::conformance::$name(&store).await }).await;
                }
            )*
        }
    };
}

conformance_tests!(
    clients_round_trip,
    users_are_unique_and_removable,
    sessions_expire,
    consent_widens,
    rfc6749_4_1_2_code_consumed_once_under_race,
    rfc6749_4_1_2_code_and_its_refresh_family_stored_once_under_race,
    rfc6749_4_1_2_a_deleted_users_code_redeems_nothing,
    a_failed_two_statement_write_changes_nothing,
    concurrent_writes_fail_alone,
    rfc9700_4_14_2_refresh_rotates_once_under_race,
    rfc6749_6_live_refresh_token_rotated_in_one_write,
    rfc9700_4_14_2_family_and_code_revocation,
    revoking_a_users_families,
    client_introspection_flag,
    removing_a_client_removes_what_it_was_issued,
    signing_keys_round_trip,
    secrets_at_rest_are_rewritten_all_or_nothing,
    client_registration_update_and_token,
    access_tokens_and_revocation,
    rfc7591_initial_access_tokens_are_spent_atomically,
    rfc8628_device_codes_decided_once_and_redeemed_once,
    housekeeping_deletes_only_expired_rows_in_batches,
    login_failures_count_in_windows,
    rfc8628_5_1_user_code_guesses_counted_atomically_in_windows,
    audit_events_are_listed_newest_first,
    issue_13_login_attempts_reserved_within_the_limit_under_race,
    issue_13_account_attempts_are_delayed_never_locked,
    issue_13_audit_events_counted_per_key_under_race,
    issue_13_audit_events_purged_after_retention_in_batches,
);

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
        let refused = store.consume_code(&hash, "user", 1, "fam", None).await;
        assert!(matches!(refused, Err(latchkey_store::StoreError::Unavailable(_))), "{refused:?}");
    })
    .await;
}
