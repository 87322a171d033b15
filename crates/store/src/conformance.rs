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
//! A new case is a function here and its name in the list inside `conformance_tests!`.
// Test code: a failed unwrap is a failed case.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use latchkey_protocol::Scope;
use latchkey_protocol::client::{Client, GrantType, TokenFormat};
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::token::RefreshGrant;

use crate::{
    AccessTokenRow, AtRest, AttemptLimit, AuditEvent, NewDeviceCode, NewRefreshToken, PurgeBefore, Resealed,
    Reservation, Session, SigningKeyRow, Store, StoreError, TokenStanding, User,
};

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
    let u =
        User { id: format!("u-{name}"), username: name.into(), password_hash: "$argon2id$fake".into(), created_at: 1 };
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

/// Clients are stored and read back whole; an id is registered once.
pub async fn clients_round_trip(store: &Store) {
    let c = client("c1");
    store.insert_client(&c).await.unwrap();
    assert!(matches!(store.insert_client(&c).await, Err(StoreError::Conflict)));
    let back = store.client("c1").await.unwrap().unwrap();
    assert_eq!(back.redirect_uris, c.redirect_uris);
    assert_eq!(back.grant_types, c.grant_types);
    assert_eq!(back.scopes, c.scopes);
    assert!(back.secret_hash.unwrap().ct_eq(&SecretHash::of("secret")));
    assert!(store.client("nope").await.unwrap().is_none());
    let mut public = client("c0");
    public.secret_hash = None;
    public.scopes = None;
    store.insert_client(&public).await.unwrap();
    assert_eq!(store.clients().await.unwrap().len(), 2);
    assert!(store.set_client_secret("c1", &SecretHash::of("new")).await.unwrap());
    assert!(!store.set_client_secret("c0", &SecretHash::of("new")).await.unwrap(), "a public client gets no secret");
    assert!(store.client("c1").await.unwrap().unwrap().secret_hash.unwrap().ct_eq(&SecretHash::of("new")));
    assert!(store.delete_client("c0").await.unwrap());
    assert!(!store.delete_client("c0").await.unwrap());
}

/// A username is taken once; users are found by name and id, and removed.
pub async fn users_are_unique_and_removable(store: &Store) {
    user(store, "alice").await;
    let dup = User { id: "other".into(), username: "alice".into(), password_hash: "x".into(), created_at: 1 };
    assert!(matches!(store.insert_user(&dup).await, Err(StoreError::Conflict)));
    assert_eq!(store.user_by_name("alice").await.unwrap().unwrap().id, "u-alice");
    assert!(store.set_password_hash("alice", "$argon2id$new").await.unwrap());
    assert_eq!(store.user("u-alice").await.unwrap().unwrap().password_hash, "$argon2id$new");
    assert_eq!(store.users().await.unwrap().len(), 1);
    assert!(store.delete_user("alice").await.unwrap());
    assert!(store.user_by_name("alice").await.unwrap().is_none());
}

/// A session names its user until it expires or is deleted.
pub async fn sessions_expire(store: &Store) {
    let (_, u) = seed(store).await;
    let id = SecretHash::of("session");
    store.insert_session(&id, &Session { user_id: u.id.clone(), created_at: 100, expires_at: 200 }).await.unwrap();
    assert_eq!(store.session_user(&id, 150).await.unwrap().unwrap().id, u.id);
    assert!(store.session_user(&id, 200).await.unwrap().is_none());
    store.delete_session(&id).await.unwrap();
    assert!(store.session_user(&id, 150).await.unwrap().is_none());
}

/// Consent granted twice to one client is the union of both (RFC 6749 §3.3 scopes).
pub async fn consent_widens(store: &Store) {
    let (c, u) = seed(store).await;
    let sid = SecretHash::of("session");
    store.insert_session(&sid, &Session { user_id: u.id.clone(), created_at: 1, expires_at: 100 }).await.unwrap();
    let asked = |now| store.session_user_consent(&sid, &c.id, now);
    assert!(store.consent(&u.id, &c.id).await.unwrap().is_none());
    let (user, consent) = asked(50).await.unwrap().unwrap();
    assert_eq!((user.id, consent), (u.id.clone(), None));
    store.grant_consent(&u.id, &c.id, &Scope::from_tokens(["a"]), 1).await.unwrap();
    store.grant_consent(&u.id, &c.id, &Scope::from_tokens(["b"]), 2).await.unwrap();
    assert_eq!(store.consent(&u.id, &c.id).await.unwrap().unwrap().to_string(), "a b");
    assert_eq!(asked(50).await.unwrap().unwrap().1.unwrap().to_string(), "a b");
    assert!(store.session_user_consent(&sid, "another-client", 50).await.unwrap().unwrap().1.is_none());
    assert!(asked(100).await.unwrap().is_none(), "the session has ended");
}

/// Of concurrent redemptions of one code, exactly one wins (RFC 6749 §4.1.2).
pub async fn rfc6749_4_1_2_code_consumed_once_under_race(store: &Store) {
    let (_, u) = seed(store).await;
    for round in 0..10 {
        let hash = SecretHash::of(&format!("code-{round}"));
        assert!(!store.code_consumed(&hash).await.unwrap());
        let store = Arc::new(store.clone());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (store, hash, user) = (store.clone(), hash.clone(), u.id.clone());
                tokio::spawn(async move { store.consume_code(&hash, &user, 2300, "fam", None).await.unwrap() })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "exactly one redemption wins");
        assert!(store.code_consumed(&hash).await.unwrap());
    }
}

/// The code and the family it starts are one write: the one winner's refresh token is
/// stored, the losers' are not.
pub async fn rfc6749_4_1_2_code_and_its_refresh_family_stored_once_under_race(store: &Store) {
    let (c, u) = seed(store).await;
    let hash = SecretHash::of("code");
    let store = Arc::new(store.clone());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, hash, user) = (store.clone(), hash.clone(), u.id.clone());
            let first = refresh(&format!("rt-{i}"), &format!("fam-{i}"), &c, &u);
            tokio::spawn(async move {
                store.consume_code(&hash, &user, 2300, &first.family_id, Some(&first)).await.unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        if t.await.unwrap() {
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one redemption wins");
    for i in 0..8 {
        let stored = store.refresh_token(&SecretHash::of(&format!("rt-{i}"))).await.unwrap();
        assert_eq!(stored.is_some(), winners == [i], "refresh token {i}");
    }
    assert!(store.code_consumed(&hash).await.unwrap());
}

/// A code issued to an account deleted since redeems nothing, and is not recorded as
/// redeemed (so it is not mistaken for a replay).
pub async fn rfc6749_4_1_2_a_deleted_users_code_redeems_nothing(store: &Store) {
    let (c, u) = seed(store).await;
    assert!(store.delete_user(&u.username).await.unwrap());
    let first = refresh("rt", "fam", &c, &u);
    assert!(!store.consume_code(&SecretHash::of("code"), &u.id, 2300, "fam", Some(&first)).await.unwrap());
    assert!(!store.consume_code(&SecretHash::of("code2"), &u.id, 2300, "fam2", None).await.unwrap());
    assert!(!store.code_consumed(&SecretHash::of("code")).await.unwrap());
    assert!(!store.code_consumed(&SecretHash::of("code2")).await.unwrap());
    assert!(store.refresh_token(&first.hash).await.unwrap().is_none());
}

/// A write that fails half-way changes nothing, and the store keeps working: the code stays
/// unused when its refresh token cannot be stored, and a refresh token stays unrotated when
/// its successor cannot.
pub async fn a_failed_two_statement_write_changes_nothing(store: &Store) {
    let (c, u) = seed(store).await;
    let code = SecretHash::of("code");
    let mut orphan = refresh("rt-orphan", "fam", &c, &u);
    orphan.grant.client_id = "no-such-client".into(); // the foreign key fails
    assert!(store.consume_code(&code, &u.id, 2300, "fam", Some(&orphan)).await.is_err());
    assert!(!store.code_consumed(&code).await.unwrap());
    assert!(store.refresh_token(&orphan.hash).await.unwrap().is_none());

    store.insert_refresh_token(&refresh("old", "fam", &c, &u)).await.unwrap();
    store.insert_refresh_token(&refresh("taken", "fam", &c, &u)).await.unwrap();
    let clash = refresh("taken", "fam", &c, &u); // the successor's digest exists
    assert!(matches!(
        store.rotate_refresh_token(&SecretHash::of("old"), &clash, 1100).await,
        Err(StoreError::Conflict)
    ));
    assert!(store.refresh_token(&SecretHash::of("old")).await.unwrap().unwrap().rotated_at.is_none());

    // Every writer connection still works (none was left inside a transaction).
    for i in 0..8 {
        let next = refresh(&format!("next-{i}"), "fam", &c, &u);
        let from = if i == 0 { "old".to_owned() } else { format!("next-{}", i - 1) };
        assert!(store.rotate_refresh_token(&SecretHash::of(&from), &next, 1200).await.unwrap());
    }
    let first = refresh("rt", "fam2", &c, &u);
    assert!(store.consume_code(&code, &u.id, 2300, "fam2", Some(&first)).await.unwrap());
}

/// Writes that arrive together (and on SQLite share one commit) succeed or fail each on
/// its own: a duplicate fails, the rest are stored.
pub async fn concurrent_writes_fail_alone(store: &Store) {
    let (c, u) = seed(store).await;
    let row = |jti: &str| AccessTokenRow {
        jti: jti.into(),
        client_id: c.id.clone(),
        subject: u.id.clone(),
        scope: "profile".into(),
        family_id: None,
        created_at: 10,
        expires_at: 20,
        revoked_at: None,
    };
    store.insert_access_token(&SecretHash::of("first"), &row("taken")).await.unwrap();
    let store = Arc::new(store.clone());
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let store = store.clone();
            let jti = if i == 7 { "taken".to_owned() } else { format!("j{i}") };
            let row = row(&jti);
            tokio::spawn(async move { store.insert_access_token(&SecretHash::of(&format!("t{i}")), &row).await })
        })
        .collect();
    for (i, t) in tasks.into_iter().enumerate() {
        let result = t.await.unwrap();
        let stored = store.access_token_standing(&SecretHash::of(&format!("t{i}"))).await.unwrap();
        if i == 7 {
            assert!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
            assert!(stored.is_none());
        } else {
            result.unwrap();
            assert_eq!(stored.unwrap().0.jti, format!("j{i}"));
        }
    }
}

/// Of concurrent rotations of one refresh token, exactly one wins (RFC 9700 §4.14.2).
pub async fn rfc9700_4_14_2_refresh_rotates_once_under_race(store: &Store) {
    let (c, u) = seed(store).await;
    store.insert_refresh_token(&refresh("rt0", "fam", &c, &u)).await.unwrap();
    let store = Arc::new(store.clone());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let (c, u) = (c.clone(), u.clone());
            tokio::spawn(async move {
                store
                    .rotate_refresh_token(&SecretHash::of("rt0"), &refresh(&format!("rt1-{i}"), "fam", &c, &u), 1100)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1, "exactly one rotation wins");
    let old = store.refresh_token(&SecretHash::of("rt0")).await.unwrap().unwrap();
    assert_eq!(old.rotated_at, Some(1100));
    assert_eq!(old.family_id, "fam");
}

/// The one-write rotation rotates only a live token of the asking client, keeps the
/// family's binding and absolute expiry in the successor, and wins once under a race.
pub async fn rfc6749_6_live_refresh_token_rotated_in_one_write(store: &Store) {
    let (c, u) = seed(store).await;
    store.insert_refresh_token(&refresh("rt", "fam", &c, &u)).await.unwrap();
    let (old, next) = (SecretHash::of("rt"), SecretHash::of("rt-next"));
    assert!(store.rotate_live_refresh_token(&old, "another-client", &next, 1100).await.unwrap().is_none());
    assert!(store.rotate_live_refresh_token(&old, &c.id, &next, 9000).await.unwrap().is_none(), "expired");
    assert!(store.refresh_token(&next).await.unwrap().is_none(), "nothing changed");
    assert!(store.refresh_token(&old).await.unwrap().unwrap().rotated_at.is_none());

    let store = Arc::new(store.clone());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, old, id) = (store.clone(), old.clone(), c.id.clone());
            let next = SecretHash::of(&format!("rt-{i}"));
            tokio::spawn(async move { store.rotate_live_refresh_token(&old, &id, &next, 1100).await.unwrap() })
        })
        .collect();
    let mut winners = Vec::new();
    for (i, t) in tasks.into_iter().enumerate() {
        if let Some(was) = t.await.unwrap() {
            assert_eq!((was.family_id.as_str(), was.rotated_at, was.grant.expires_at), ("fam", None, 9000));
            winners.push(i);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one rotation wins");
    let successor = store.refresh_token(&SecretHash::of(&format!("rt-{}", winners[0]))).await.unwrap().unwrap();
    assert_eq!((successor.family_id.as_str(), successor.grant.expires_at), ("fam", 9000));
    assert_eq!((successor.grant.client_id.as_str(), successor.grant.user_id.as_str()), (c.id.as_str(), u.id.as_str()));
    assert!(successor.rotated_at.is_none() && successor.revoked_at.is_none());
    assert_eq!(store.refresh_token(&old).await.unwrap().unwrap().rotated_at, Some(1100));
}

/// Revoking a family, or the family a code started, revokes its tokens and no others
/// (RFC 9700 §4.14.2, RFC 6749 §4.1.2).
pub async fn rfc9700_4_14_2_family_and_code_revocation(store: &Store) {
    let (c, u) = seed(store).await;
    store.insert_refresh_token(&refresh("a1", "famA", &c, &u)).await.unwrap();
    assert!(store.rotate_refresh_token(&SecretHash::of("a1"), &refresh("a2", "famA", &c, &u), 1).await.unwrap());
    // famB came from codeB: its first token is stored with the code's redemption.
    assert!(
        store
            .consume_code(&SecretHash::of("codeB"), &u.id, 2300, "famB", Some(&refresh("b1", "famB", &c, &u)))
            .await
            .unwrap()
    );
    assert_eq!(store.revoke_refresh_family("famA", 5).await.unwrap(), 2);
    assert_eq!(store.refresh_token(&SecretHash::of("a2")).await.unwrap().unwrap().revoked_at, Some(5));
    assert!(store.refresh_token(&SecretHash::of("b1")).await.unwrap().unwrap().revoked_at.is_none());
    // A revoked token cannot be rotated.
    assert!(!store.rotate_refresh_token(&SecretHash::of("a2"), &refresh("a3", "famA", &c, &u), 6).await.unwrap());
    assert!(store.rotate_refresh_token(&SecretHash::of("b1"), &refresh("b2", "famB", &c, &u), 6).await.unwrap());
    assert_eq!(store.revoke_refresh_by_code(&SecretHash::of("codeB"), 7, 600).await.unwrap(), 2);
    assert!(store.jwt_standing("jb", Some("famB"), &u.id).await.unwrap().family_revoked);
    assert_eq!(store.refresh_token(&SecretHash::of("b2")).await.unwrap().unwrap().revoked_at, Some(7));
    assert_eq!(
        store.refresh_token(&SecretHash::of("a2")).await.unwrap().unwrap().revoked_at,
        Some(5),
        "famA untouched"
    );
    // A code redeemed without a refresh token still revokes the access tokens of its
    // family (RFC 6749 §4.1.2); one never redeemed revokes nothing.
    assert!(store.consume_code(&SecretHash::of("codeC"), &u.id, 2300, "famC", None).await.unwrap());
    assert!(store.jwt_standing("jc", Some("famC"), &u.id).await.unwrap().is_live());
    assert_eq!(store.revoke_refresh_by_code(&SecretHash::of("codeC"), 8, 608).await.unwrap(), 0);
    assert!(store.jwt_standing("jc", Some("famC"), &u.id).await.unwrap().family_revoked);
    assert!(store.jwt_standing("jd", Some("famD"), &u.id).await.unwrap().is_live());
    assert_eq!(store.revoke_refresh_by_code(&SecretHash::of("codeD"), 8, 608).await.unwrap(), 0);
    // The revocation is kept until the family's last access token has expired.
    let purged = store.purge_expired(PurgeBefore { expired_before: 609, audit_before: 0 }, 1000, 10).await.unwrap();
    assert!(purged.rows.contains(&("revoked_families", 2)), "{purged:?}");
    assert!(store.jwt_standing("jc", Some("famC"), &u.id).await.unwrap().is_live());
}

/// A password change ends every grant of the user; a withdrawn consent those of one client.
pub async fn revoking_a_users_families(store: &Store) {
    let (c, u) = seed(store).await;
    let mut other = client("c2");
    other.scopes = None;
    store.insert_client(&other).await.unwrap();
    let bob = user(store, "bob").await;
    store.insert_refresh_token(&refresh("a1", "famA", &c, &u)).await.unwrap();
    assert!(store.rotate_refresh_token(&SecretHash::of("a1"), &refresh("a2", "famA", &c, &u), 1).await.unwrap());
    store.insert_refresh_token(&refresh("o1", "famO", &other, &u)).await.unwrap();
    store.insert_refresh_token(&refresh("b1", "famBob", &c, &bob)).await.unwrap();
    assert_eq!(store.revoke_user_families(&u.id, Some(&c.id), 5).await.unwrap(), 2, "a1 (rotated) and a2");
    assert!(store.jwt_standing("j", Some("famA"), &u.id).await.unwrap().family_revoked);
    assert!(store.refresh_token(&SecretHash::of("o1")).await.unwrap().unwrap().revoked_at.is_none());
    assert_eq!(store.revoke_user_families(&u.id, None, 6).await.unwrap(), 1);
    assert_eq!(store.refresh_token(&SecretHash::of("o1")).await.unwrap().unwrap().revoked_at, Some(6));
    assert!(store.refresh_token(&SecretHash::of("b1")).await.unwrap().unwrap().revoked_at.is_none(), "bob's stays");
}

/// Only the operator marks a client as a resource server (RFC 7662 §4).
pub async fn client_introspection_flag(store: &Store) {
    let (c, _) = seed(store).await;
    assert!(!store.client(&c.id).await.unwrap().unwrap().may_introspect);
    assert!(store.set_client_introspection(&c.id, true).await.unwrap());
    assert!(store.client(&c.id).await.unwrap().unwrap().may_introspect);
    assert!(!store.set_client_introspection("nobody", true).await.unwrap());
    assert!(!store.client(&c.id).await.unwrap().unwrap().registered_dynamically);
    assert!(store.set_registration_token(&c.id, &SecretHash::of("reg")).await.unwrap());
    assert!(store.client(&c.id).await.unwrap().unwrap().registered_dynamically);
}

/// Deleting a client deletes its refresh tokens and consents.
pub async fn removing_a_client_removes_what_it_was_issued(store: &Store) {
    let (c, u) = seed(store).await;
    store.insert_refresh_token(&refresh("rt", "fam", &c, &u)).await.unwrap();
    store.grant_consent(&u.id, &c.id, &Scope::from_tokens(["profile"]), 1).await.unwrap();
    assert!(store.delete_client(&c.id).await.unwrap());
    assert!(store.refresh_token(&SecretHash::of("rt")).await.unwrap().is_none());
    assert!(store.consent(&u.id, &c.id).await.unwrap().is_none());
}

/// Signing keys are listed newest first, retired once, and published until their tokens expire.
pub async fn signing_keys_round_trip(store: &Store) {
    assert!(store.signing_keys(0).await.unwrap().is_empty());
    for (kid, at) in [("k1", 1), ("k2", 2)] {
        let k = SigningKeyRow {
            kid: kid.into(),
            alg: "ES256".into(),
            private_der: vec![1, 2, 3],
            created_at: at,
            retired_at: None,
            activates_at: at + 10,
            encrypted: at == 2,
        };
        store.insert_signing_key(&k).await.unwrap();
    }
    let keys = store.signing_keys(0).await.unwrap();
    assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["k2", "k1"]);
    assert_eq!(keys[0].private_der, vec![1, 2, 3]);
    assert_eq!((keys[0].activates_at, keys[0].encrypted), (12, true));
    assert!(store.retire_signing_key("k1", 100).await.unwrap());
    assert!(!store.retire_signing_key("k1", 101).await.unwrap());
    // Still published while tokens it signed may live; gone after.
    assert_eq!(store.signing_keys(99).await.unwrap().len(), 2);
    assert_eq!(store.signing_keys(100).await.unwrap().len(), 1);
    assert_eq!(store.all_signing_keys().await.unwrap().len(), 2);
}

/// A stand-in for encryption: a leading 0 (plaintext) becomes 1.
fn seal_plain(item: AtRest<'_>) -> Result<Option<Resealed>, StoreError> {
    let value = match item {
        AtRest::ServerSecret { value, .. } => value,
        AtRest::SigningKey { private_der, .. } => private_der,
    };
    Ok((value[0] == 0).then(|| Resealed { value: [&[1u8][..], &value[1..]].concat(), encrypted: true }))
}

/// Resealing secrets at rest is all or nothing, and rewrites each row once when two
/// instances do it at once.
pub async fn secrets_at_rest_are_rewritten_all_or_nothing(store: &Store) {
    store.server_secret("a", &[0, 7], 1).await.unwrap();
    store.server_secret("b", &[0, 8], 1).await.unwrap();
    let key = |kid: &str| SigningKeyRow {
        kid: kid.into(),
        alg: "ES256".into(),
        private_der: vec![0, 9],
        created_at: 1,
        retired_at: None,
        activates_at: 1,
        encrypted: false,
    };
    store.insert_signing_key(&key("k1")).await.unwrap();
    // A failure on the last item undoes the others.
    let mut seen = Vec::new();
    let failed = store
        .reseal_at_rest(|item| {
            seen.push(format!("{item:?}"));
            if matches!(item, AtRest::SigningKey { .. }) { Err(StoreError::Conflict) } else { seal_plain(item) }
        })
        .await;
    assert!(matches!(failed, Err(StoreError::Conflict)), "{failed:?}");
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(store.server_secret("a", b"", 1).await.unwrap(), [0, 7]);
    assert!(!store.all_signing_keys().await.unwrap()[0].encrypted);
    // Two at once (two instances starting together): each row is rewritten once.
    let (x, y) = tokio::join!(store.reseal_at_rest(seal_plain), store.reseal_at_rest(seal_plain));
    assert_eq!(x.unwrap() + y.unwrap(), 3);
    assert_eq!(store.server_secret("a", b"", 1).await.unwrap(), [1, 7]);
    assert_eq!(store.server_secret("b", b"", 1).await.unwrap(), [1, 8]);
    let k = &store.all_signing_keys().await.unwrap()[0];
    assert_eq!((k.private_der.as_slice(), k.encrypted), (&[1u8, 9][..], true));
    assert_eq!(store.reseal_at_rest(seal_plain).await.unwrap(), 0, "nothing left in plaintext");
}

/// A registration is updated in place, keeping the secret (RFC 7592 §2.2), and its
/// registration access token is stored by digest.
pub async fn client_registration_update_and_token(store: &Store) {
    let mut c = client("c1");
    c.metadata = Some(serde_json::json!({"client_uri": "https://app.example"}).as_object().unwrap().clone());
    store.insert_client(&c).await.unwrap();
    assert!(store.registration_token("c1").await.unwrap().is_none());
    assert!(store.set_registration_token("c1", &SecretHash::of("rat")).await.unwrap());
    assert!(store.registration_token("c1").await.unwrap().unwrap().ct_eq(&SecretHash::of("rat")));
    c.name = "Renamed".into();
    c.token_format = TokenFormat::Opaque;
    c.redirect_uris = vec!["https://new.example/cb".into()];
    assert!(store.update_client(&c).await.unwrap());
    let back = store.client("c1").await.unwrap().unwrap();
    assert_eq!((back.name.as_str(), back.token_format), ("Renamed", TokenFormat::Opaque));
    assert_eq!(back.redirect_uris, ["https://new.example/cb"]);
    assert_eq!(back.metadata.unwrap()["client_uri"], "https://app.example");
    assert!(back.secret_hash.unwrap().ct_eq(&SecretHash::of("secret")), "the secret is kept");
}

/// Opaque access tokens and revoked JWTs have the standing introspection reports
/// (RFC 7662, RFC 7009).
pub async fn access_tokens_and_revocation(store: &Store) {
    let (c, u) = seed(store).await;
    let row = AccessTokenRow {
        jti: "j1".into(),
        client_id: c.id.clone(),
        subject: u.id.clone(),
        scope: "profile".into(),
        family_id: Some("fam".into()),
        created_at: 10,
        expires_at: 20,
        revoked_at: None,
    };
    store.insert_access_token(&SecretHash::of("opaque"), &row).await.unwrap();
    let (back, standing) = store.access_token_standing(&SecretHash::of("opaque")).await.unwrap().unwrap();
    assert_eq!((back.jti.as_str(), back.family_id.as_deref()), ("j1", Some("fam")));
    let alice = TokenStanding { username: Some(u.username.clone()), ..TokenStanding::default() };
    assert_eq!(standing, alice);
    assert!(standing.is_live());
    assert!(store.revoke_access_token(&SecretHash::of("opaque"), 15).await.unwrap());
    assert!(!store.revoke_access_token(&SecretHash::of("opaque"), 16).await.unwrap());
    let (_, standing) = store.access_token_standing(&SecretHash::of("opaque")).await.unwrap().unwrap();
    assert_eq!((standing.revoked_at, standing.is_live()), (Some(15), false));
    assert_eq!(store.access_token(&SecretHash::of("opaque")).await.unwrap().unwrap().revoked_at, Some(15));
    // A JWT is recorded by jti only when revoked; twice is fine.
    assert_eq!(store.jwt_standing("j2", None, &u.id).await.unwrap(), alice);
    let jwt = AccessTokenRow { jti: "j2".into(), family_id: None, ..row };
    store.revoke_jwt(&jwt, 17).await.unwrap();
    store.revoke_jwt(&jwt, 18).await.unwrap();
    assert_eq!(store.jwt_standing("j2", None, &u.id).await.unwrap().revoked_at, Some(18));
    // A client's own token has no user; a revoked family makes its tokens not live.
    let client_token = store.jwt_standing("j3", Some("fam"), &c.id).await.unwrap();
    assert_eq!(client_token, TokenStanding::default());
    store.insert_refresh_token(&refresh("rt", "fam", &c, &u)).await.unwrap();
    assert!(store.jwt_standing("j3", Some("fam"), &c.id).await.unwrap().is_live());
    store.revoke_refresh_family("fam", 19).await.unwrap();
    assert!(store.jwt_standing("j3", Some("fam"), &c.id).await.unwrap().family_revoked);
    assert!(store.jwt_standing("j3", Some("other"), &c.id).await.unwrap().is_live());
    let mut unrevoked = AccessTokenRow { jti: "j4".into(), ..jwt };
    unrevoked.family_id = Some("fam".into());
    store.insert_access_token(&SecretHash::of("opaque-fam"), &unrevoked).await.unwrap();
    let (_, standing) = store.access_token_standing(&SecretHash::of("opaque-fam")).await.unwrap().unwrap();
    assert_eq!((standing.revoked_at, standing.family_revoked), (None, true));
}

/// An initial access token is spent at most its number of uses and only before it
/// expires (RFC 7591 §3).
pub async fn rfc7591_initial_access_tokens_are_spent_atomically(store: &Store) {
    store.insert_registration_token(&SecretHash::of("twice"), Some(2), None, 1).await.unwrap();
    store.insert_registration_token(&SecretHash::of("expiring"), None, Some(50), 1).await.unwrap();
    assert!(store.use_registration_token(&SecretHash::of("twice"), 5).await.unwrap());
    assert!(store.use_registration_token(&SecretHash::of("twice"), 5).await.unwrap());
    assert!(!store.use_registration_token(&SecretHash::of("twice"), 5).await.unwrap());
    assert!(store.use_registration_token(&SecretHash::of("expiring"), 49).await.unwrap());
    assert!(!store.use_registration_token(&SecretHash::of("expiring"), 50).await.unwrap());
    assert!(!store.use_registration_token(&SecretHash::of("unknown"), 1).await.unwrap());
}

/// A device code is decided once and redeemed once, its polling interval widened on
/// `slow_down` (RFC 8628 §3.5).
pub async fn rfc8628_device_codes_decided_once_and_redeemed_once(store: &Store) {
    let (c, u) = seed(store).await;
    let d = NewDeviceCode {
        hash: SecretHash::of("dc"),
        user_code: "BCDFGHJK".into(),
        client_id: c.id.clone(),
        scope: "profile".into(),
        created_at: 100,
        expires_at: 700,
        interval_secs: 5,
    };
    store.insert_device_code(&d).await.unwrap();
    assert!(matches!(
        store.insert_device_code(&NewDeviceCode { hash: SecretHash::of("dc2"), ..d.clone() }).await,
        Err(StoreError::Conflict)
    ));
    assert!(!store.consume_device_code(&SecretHash::of("dc"), 110).await.unwrap(), "not approved yet");
    store.poll_device_code(&SecretHash::of("dc"), 110, true).await.unwrap();
    let row = store.device_code(&SecretHash::of("dc")).await.unwrap().unwrap();
    assert_eq!((row.interval_secs, row.last_polled_at), (10, Some(110)));
    assert!(store.device_code_by_user_code("BCDFGHJK", 699).await.unwrap().is_some());
    assert!(store.device_code_by_user_code("BCDFGHJK", 700).await.unwrap().is_none(), "expired");
    assert!(store.decide_device_code("BCDFGHJK", &u.id, "allow", 120).await.unwrap());
    assert!(!store.decide_device_code("BCDFGHJK", &u.id, "deny", 121).await.unwrap(), "decided once");
    assert!(store.device_code_by_user_code("BCDFGHJK", 122).await.unwrap().is_none());
    assert!(store.consume_device_code(&SecretHash::of("dc"), 130).await.unwrap());
    assert!(!store.consume_device_code(&SecretHash::of("dc"), 131).await.unwrap());
    let row = store.device_code(&SecretHash::of("dc")).await.unwrap().unwrap();
    assert_eq!(
        (row.decision.as_deref(), row.user_id.as_deref(), row.consumed_at),
        (Some("allow"), Some(u.id.as_str()), Some(130))
    );
}

/// The janitor deletes expired rows only, in bounded batches, and says when it stopped
/// at its limit.
pub async fn housekeeping_deletes_only_expired_rows_in_batches(store: &Store) {
    let (c, u) = seed(store).await;
    for i in 0..25 {
        // 20 expired at 100, 5 live until 9000.
        let expires = if i < 20 { 100 } else { 9000 };
        assert!(
            store
                .consume_code(&SecretHash::of(&format!("code{i}")), &u.id, expires, &format!("f{i}"), None)
                .await
                .unwrap()
        );
        let mut rt = refresh(&format!("rt{i}"), &format!("fam{i}"), &c, &u);
        rt.grant.expires_at = expires;
        store.insert_refresh_token(&rt).await.unwrap();
        store
            .insert_session(
                &SecretHash::of(&format!("s{i}")),
                &Session { user_id: u.id.clone(), created_at: 1, expires_at: expires },
            )
            .await
            .unwrap();
    }
    // Batches of 3, at most 2 per table in a run: 6 rows per table per run.
    let run = store.purge_expired(PurgeBefore { expired_before: 200, audit_before: 0 }, 3, 2).await.unwrap();
    assert!(run.ran);
    assert_eq!(run.total(), 18);
    assert!(run.unfinished, "stopped at its limit with expired rows left");
    let mut total = run.total();
    while total < 60 {
        let run = store.purge_expired(PurgeBefore { expired_before: 200, audit_before: 0 }, 3, 2).await.unwrap();
        assert!(run.total() > 0, "progress every run");
        total += run.total();
        assert_eq!(run.unfinished, total < 60, "after {total} rows");
    }
    let last = store.purge_expired(PurgeBefore { expired_before: 200, audit_before: 0 }, 3, 2).await.unwrap();
    assert_eq!((last.total(), last.unfinished), (0, false));
    for i in 0..25 {
        let live = i >= 20;
        assert_eq!(store.code_consumed(&SecretHash::of(&format!("code{i}"))).await.unwrap(), live);
        assert_eq!(store.refresh_token(&SecretHash::of(&format!("rt{i}"))).await.unwrap().is_some(), live);
        assert_eq!(store.session_user(&SecretHash::of(&format!("s{i}")), 150).await.unwrap().is_some(), live);
    }
}

/// Login failures are counted per key within a window, concurrent ones included.
pub async fn login_failures_count_in_windows(store: &Store) {
    assert!(store.login_failures("user:alice", 100).await.unwrap().is_none());
    for _ in 0..3 {
        store.record_login_failure("user:alice", 100, 60).await.unwrap();
    }
    assert_eq!(store.login_failures("user:alice", 120).await.unwrap(), Some((3, 160)));
    assert!(store.login_failures("user:alice", 160).await.unwrap().is_none(), "the window ended");
    store.record_login_failure("user:alice", 170, 60).await.unwrap();
    assert_eq!(store.login_failures("user:alice", 171).await.unwrap(), Some((1, 230)), "a new window");
    store.clear_login_failures("user:alice").await.unwrap();
    assert!(store.login_failures("user:alice", 171).await.unwrap().is_none());
    // Concurrent failures all count.
    let store2 = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = store2.clone();
            tokio::spawn(async move { s.record_login_failure("ip:1.2.3.4", 500, 60).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.login_failures("ip:1.2.3.4", 501).await.unwrap().map(|f| f.0), Some(10));
}

/// Wrong user-code guesses are counted per key within a window, atomically (RFC 8628 §5.1).
pub async fn rfc8628_5_1_user_code_guesses_counted_atomically_in_windows(store: &Store) {
    let count = |now| store.count_user_code_guess("user:alice", now, 60, 3);
    for n in 1..=3 {
        let c = count(100).await.unwrap();
        assert_eq!((c.guesses, c.within_limit, c.window_ends), (n, true, 160));
    }
    let c = count(120).await.unwrap();
    assert_eq!((c.guesses, c.within_limit, c.window_ends), (4, false, 160), "past the limit");
    // A right code is taken back, within its window only.
    store.forgive_user_code_guess("user:alice", 121).await.unwrap();
    assert_eq!(count(122).await.unwrap().guesses, 4);
    let c = count(160).await.unwrap();
    assert_eq!((c.guesses, c.within_limit, c.window_ends), (1, true, 220), "a new window");
    store.forgive_user_code_guess("user:alice", 161).await.unwrap();
    store.forgive_user_code_guess("user:alice", 161).await.unwrap();
    assert_eq!(count(162).await.unwrap().guesses, 1, "never below zero");
    assert_eq!(store.count_user_code_guess("user:bob", 162, 60, 3).await.unwrap().guesses, 1, "per key");
    // Concurrent guesses all count, and exactly `limit` of them are within it.
    let store2 = Arc::new(store.clone());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store2.clone();
            tokio::spawn(async move { s.count_user_code_guess("user:carol", 500, 60, 10).await.unwrap() })
        })
        .collect();
    let mut within = 0;
    for t in tasks {
        within += usize::from(t.await.unwrap().within_limit);
    }
    assert_eq!(within, 10);
    assert_eq!(store.count_user_code_guess("user:carol", 501, 60, 10).await.unwrap().guesses, 21);
    // The janitor removes ended windows.
    let run = store.purge_expired(PurgeBefore { expired_before: 600, audit_before: 0 }, 100, 1).await.unwrap();
    assert!(run.rows.contains(&("user_code_guesses", 3)), "{run:?}");
}

/// Audit events are listed newest first, optionally of one kind.
pub async fn audit_events_are_listed_newest_first(store: &Store) {
    for (i, kind) in ["login_failed", "login_succeeded", "login_failed"].iter().enumerate() {
        let e = AuditEvent {
            id: format!("e{i}"),
            at: 100 + i as i64,
            kind: (*kind).into(),
            actor: Some("alice".into()),
            client_id: None,
            address: Some("127.0.0.1".into()),
            detail: None,
            count: 1,
        };
        store.insert_audit_event(&e).await.unwrap();
    }
    let all = store.audit_events(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e2", "e1", "e0"]);
    let failed = store.audit_events(Some("login_failed"), 1).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, "e2");
}

/// Of concurrent login attempts, exactly the limit are reserved (issue 13).
pub async fn issue_13_login_attempts_reserved_within_the_limit_under_race(store: &Store) {
    let store2 = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store2.clone();
            tokio::spawn(
                async move { s.reserve_login_attempt("acct:alice@1.2.3.4", 100, 60, AttemptLimit::Hard(5)).await },
            )
        })
        .collect();
    let mut reserved = Vec::new();
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Reservation::Reserved { count, window_ends } => {
                assert_eq!(window_ends, 160);
                reserved.push(count);
            }
            Reservation::Refused { retry_at } => assert_eq!(retry_at, 160, "the window's end"),
        }
    }
    reserved.sort_unstable();
    assert_eq!(reserved, [1, 2, 3, 4, 5], "exactly the limit, each counted once");
    assert_eq!(store.login_failures("acct:alice@1.2.3.4", 101).await.unwrap(), Some((5, 160)), "refusals not counted");
    // A released reservation (a success) makes room for one more; not one of another window.
    store.release_login_attempt("acct:alice@1.2.3.4", 160).await.unwrap();
    store.release_login_attempt("acct:alice@1.2.3.4", 999).await.unwrap();
    let again = store.reserve_login_attempt("acct:alice@1.2.3.4", 110, 60, AttemptLimit::Hard(5)).await.unwrap();
    assert_eq!(again, Reservation::Reserved { count: 5, window_ends: 160 });
    let full = store.reserve_login_attempt("acct:alice@1.2.3.4", 110, 60, AttemptLimit::Hard(5)).await.unwrap();
    assert_eq!(full, Reservation::Refused { retry_at: 160 });
    // The window ends: a new one starts with this attempt.
    let next = store.reserve_login_attempt("acct:alice@1.2.3.4", 160, 60, AttemptLimit::Hard(5)).await.unwrap();
    assert_eq!(next, Reservation::Reserved { count: 1, window_ends: 220 });
}

/// An account's attempts past the free ones are delayed, never locked (issue 13).
pub async fn issue_13_account_attempts_are_delayed_never_locked(store: &Store) {
    let limit = AttemptLimit::Delay { free: 3, max_delay: 8 };
    let key = "acct:bob";
    let reserve = |now| store.reserve_login_attempt(key, now, 1000, limit);
    // Three at once; the third makes the next wait 2 s, then 4, then 8 (the longest).
    for n in 1..=3 {
        assert_eq!(reserve(100).await.unwrap(), Reservation::Reserved { count: n, window_ends: 1100 });
    }
    assert_eq!(reserve(101).await.unwrap(), Reservation::Refused { retry_at: 102 });
    assert_eq!(reserve(102).await.unwrap(), Reservation::Reserved { count: 4, window_ends: 1100 });
    assert_eq!(reserve(105).await.unwrap(), Reservation::Refused { retry_at: 106 }, "refusals do not push it back");
    assert_eq!(reserve(106).await.unwrap(), Reservation::Reserved { count: 5, window_ends: 1100 });
    assert_eq!(reserve(113).await.unwrap(), Reservation::Refused { retry_at: 114 });
    assert_eq!(reserve(114).await.unwrap(), Reservation::Reserved { count: 6, window_ends: 1100 });
    assert_eq!(reserve(121).await.unwrap(), Reservation::Refused { retry_at: 122 }, "capped at 8 s");
    // Of concurrent attempts once the wait is over, one goes ahead.
    let store2 = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = store2.clone();
            tokio::spawn(async move { s.reserve_login_attempt(key, 200, 1000, limit).await.unwrap() })
        })
        .collect();
    let mut through = 0;
    for t in tasks {
        through += usize::from(matches!(t.await.unwrap(), Reservation::Reserved { .. }));
    }
    assert_eq!(through, 1);
    // A new window starts over.
    assert_eq!(reserve(1100).await.unwrap(), Reservation::Reserved { count: 1, window_ends: 2100 });
    assert_eq!(reserve(1100).await.unwrap(), Reservation::Reserved { count: 2, window_ends: 2100 });
}

fn audit_event(id: &str, at: i64, kind: &str) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        at,
        kind: kind.into(),
        actor: Some("alice".into()),
        client_id: None,
        address: Some("10.0.0.1".into()),
        detail: None,
        count: 1,
    }
}

/// Concurrent audit events of one key are counted in one row (issue 13).
pub async fn issue_13_audit_events_counted_per_key_under_race(store: &Store) {
    let store2 = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let s = store2.clone();
            tokio::spawn(async move {
                s.count_audit_event(&audit_event(&format!("t{i:02}"), 100 + i, "login_throttled"), "k1").await.unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    store.count_audit_event(&audit_event("other", 200, "login_throttled"), "k2").await.unwrap();
    let all = store.audit_events(Some("login_throttled"), 10).await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!((all[0].id.as_str(), all[0].count), ("other", 1));
    assert_eq!(all[1].count, 30, "every one counted, in one row");
}

/// Audit events past their retention are purged in batches (issue 13).
pub async fn issue_13_audit_events_purged_after_retention_in_batches(store: &Store) {
    for i in 0..7 {
        store.insert_audit_event(&audit_event(&format!("old{i}"), 100 + i, "login_failed")).await.unwrap();
    }
    store.insert_audit_event(&audit_event("new", 9000, "login_failed")).await.unwrap();
    let before = PurgeBefore { expired_before: 0, audit_before: 200 };
    let run = store.purge_expired(before, 3, 2).await.unwrap();
    assert_eq!((run.total(), run.unfinished), (6, true));
    let run = store.purge_expired(before, 3, 2).await.unwrap();
    assert_eq!((run.total(), run.unfinished), (1, false));
    let left = store.audit_events(None, 10).await.unwrap();
    assert_eq!(left.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["new"], "recent events are kept");
}
