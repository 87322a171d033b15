//! The store conformance suite: what every backend must do, written once (compiled with
//! the `conformance` feature).
//!
//! Each case is an async function given a fresh, empty [`Store`]; it panics on failure.
//! [`conformance_tests!`](crate::conformance_tests) registers every case as its own
//! `#[tokio::test]`, so a backend's tests are one call:
//!
//! ```ignore
//! mod sqlite {
//!     latchkey_store::conformance_tests!(crate::db::sqlite);
//! }
//! ```
//!
//! A new case is a public function in one of the submodules, and its name in the list
//! inside `conformance_tests!`.
// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod accounts;
mod grants;
mod limits;
mod secrets;

pub use accounts::*;
pub use grants::*;
pub use limits::*;
pub use secrets::*;

use latchkey_protocol::Scope;
use latchkey_protocol::client::{Client, GrantType, TokenFormat};
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::token::RefreshGrant;

use crate::{NewRefreshToken, Store, User};

/// Registers every case of the suite as a `#[tokio::test]` of the module it is called in,
/// named after the case. `$harness` is called once per case with the case as an
/// `FnOnce(Store) -> impl Future<Output = ()> + Send + 'static`, and is expected to make a
/// fresh store, run the case on it and clean up, e.g.
/// `async fn sqlite<F: Future<Output = ()> + Send + 'static>(case: impl FnOnce(Store) -> F)`.
/// The calling crate needs `tokio` with its `macros` and `rt` features.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:expr) => {
        $crate::conformance_tests!(@cases $harness;
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
    };
    (@cases $harness:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                ($harness)(|store: $crate::Store| async move { $crate::conformance::$case(&store).await }).await
            }
        )*
    };
}

fn client(id: &str) -> Client {
    Client {
        id: id.into(),
        name: format!("Client {id}"),
        secret_hash: Some(SecretHash::of("secret")),
        redirect_uris: vec!["https://app.example/cb".into(), "http://127.0.0.1/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: Some(Scope::from_tokens(["profile"])),
        require_pkce: true,
        created_at: 1000,
        token_format: TokenFormat::Jwt,
        metadata: None,
        registered_dynamically: false,
        may_introspect: false,
    }
}

async fn user(store: &Store, name: &str) -> User {
    let u = User {
        id: format!("u-{name}").into(),
        username: name.into(),
        password_hash: "$argon2id$fake".into(),
        created_at: 1,
    };
    store.insert_user(&u).await.unwrap();
    u
}

async fn seed(store: &Store) -> (Client, User) {
    let c = client("c1");
    store.insert_client(&c).await.unwrap();
    (c, user(store, "alice").await)
}

fn refresh(token: &str, family: &str, c: &Client, u: &User) -> NewRefreshToken {
    NewRefreshToken {
        hash: SecretHash::of(token),
        family_id: family.into(),
        grant: RefreshGrant {
            client_id: c.id.clone(),
            user_id: u.id.clone(),
            scope: Scope::from_tokens(["profile"]),
            expires_at: 9000,
        },
        created_at: 1000,
    }
}
