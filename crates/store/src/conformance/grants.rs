//! Codes, refresh tokens, access tokens and device codes: the single-use and
//! rotation guarantees (RFC 6749 §4.1.2 and §6, RFC 9700 §4.14.2, RFC 8628).

use std::sync::Arc;

use latchkey_protocol::Subject;
use latchkey_protocol::secret::SecretHash;

use super::{client, refresh, seed, user};
use crate::{AccessTokenRow, NewDeviceCode, PurgeBefore, Store, StoreError, TokenStanding};

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
                tokio::spawn(async move { store.consume_code(&hash, &user, 2300, &"fam".into(), None).await.unwrap() })
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
    assert!(!store.consume_code(&SecretHash::of("code"), &u.id, 2300, &"fam".into(), Some(&first)).await.unwrap());
    assert!(!store.consume_code(&SecretHash::of("code2"), &u.id, 2300, &"fam2".into(), None).await.unwrap());
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
    assert!(store.consume_code(&code, &u.id, 2300, &"fam".into(), Some(&orphan)).await.is_err());
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
    assert!(store.consume_code(&code, &u.id, 2300, &"fam2".into(), Some(&first)).await.unwrap());
}

/// Writes that arrive together (and on SQLite share one commit) succeed or fail each on
/// its own: a duplicate fails, the rest are stored.
pub async fn concurrent_writes_fail_alone(store: &Store) {
    let (c, u) = seed(store).await;
    let row = |jti: &str| AccessTokenRow {
        jti: jti.into(),
        client_id: c.id.clone(),
        subject: Subject::user(&u.id),
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
            assert_eq!(stored.unwrap().0.jti.as_str(), format!("j{i}"));
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
    assert!(store.rotate_live_refresh_token(&old, &"another-client".into(), &next, 1100).await.unwrap().is_none());
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
            .consume_code(&SecretHash::of("codeB"), &u.id, 2300, &"famB".into(), Some(&refresh("b1", "famB", &c, &u)))
            .await
            .unwrap()
    );
    assert_eq!(store.revoke_refresh_family(&"famA".into(), 5).await.unwrap(), 2);
    assert_eq!(store.refresh_token(&SecretHash::of("a2")).await.unwrap().unwrap().revoked_at, Some(5));
    assert!(store.refresh_token(&SecretHash::of("b1")).await.unwrap().unwrap().revoked_at.is_none());
    // A revoked token cannot be rotated.
    assert!(!store.rotate_refresh_token(&SecretHash::of("a2"), &refresh("a3", "famA", &c, &u), 6).await.unwrap());
    assert!(store.rotate_refresh_token(&SecretHash::of("b1"), &refresh("b2", "famB", &c, &u), 6).await.unwrap());
    assert_eq!(store.revoke_refresh_by_code(&SecretHash::of("codeB"), 7, 600).await.unwrap(), 2);
    assert!(
        store.jwt_standing(&"jb".into(), Some(&"famB".into()), &Subject::user(&u.id)).await.unwrap().family_revoked
    );
    assert_eq!(store.refresh_token(&SecretHash::of("b2")).await.unwrap().unwrap().revoked_at, Some(7));
    assert_eq!(
        store.refresh_token(&SecretHash::of("a2")).await.unwrap().unwrap().revoked_at,
        Some(5),
        "famA untouched"
    );
    // A code redeemed without a refresh token still revokes the access tokens of its
    // family (RFC 6749 §4.1.2); one never redeemed revokes nothing.
    assert!(store.consume_code(&SecretHash::of("codeC"), &u.id, 2300, &"famC".into(), None).await.unwrap());
    assert!(store.jwt_standing(&"jc".into(), Some(&"famC".into()), &Subject::user(&u.id)).await.unwrap().is_live());
    assert_eq!(store.revoke_refresh_by_code(&SecretHash::of("codeC"), 8, 608).await.unwrap(), 0);
    assert!(
        store.jwt_standing(&"jc".into(), Some(&"famC".into()), &Subject::user(&u.id)).await.unwrap().family_revoked
    );
    assert!(store.jwt_standing(&"jd".into(), Some(&"famD".into()), &Subject::user(&u.id)).await.unwrap().is_live());
    assert_eq!(store.revoke_refresh_by_code(&SecretHash::of("codeD"), 8, 608).await.unwrap(), 0);
    // The revocation is kept until the family's last access token has expired.
    let purged = store.purge_expired(PurgeBefore { expired_before: 609, audit_before: 0 }, 1000, 10).await.unwrap();
    assert!(purged.rows.contains(&("revoked_families", 2)), "{purged:?}");
    assert!(store.jwt_standing(&"jc".into(), Some(&"famC".into()), &Subject::user(&u.id)).await.unwrap().is_live());
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
    assert!(store.jwt_standing(&"j".into(), Some(&"famA".into()), &Subject::user(&u.id)).await.unwrap().family_revoked);
    assert!(store.refresh_token(&SecretHash::of("o1")).await.unwrap().unwrap().revoked_at.is_none());
    assert_eq!(store.revoke_user_families(&u.id, None, 6).await.unwrap(), 1);
    assert_eq!(store.refresh_token(&SecretHash::of("o1")).await.unwrap().unwrap().revoked_at, Some(6));
    assert!(store.refresh_token(&SecretHash::of("b1")).await.unwrap().unwrap().revoked_at.is_none(), "bob's stays");
}

/// Opaque access tokens and revoked JWTs have the standing introspection reports
/// (RFC 7662, RFC 7009).
pub async fn access_tokens_and_revocation(store: &Store) {
    let (c, u) = seed(store).await;
    let row = AccessTokenRow {
        jti: "j1".into(),
        client_id: c.id.clone(),
        subject: Subject::user(&u.id),
        scope: "profile".into(),
        family_id: Some("fam".into()),
        created_at: 10,
        expires_at: 20,
        revoked_at: None,
    };
    store.insert_access_token(&SecretHash::of("opaque"), &row).await.unwrap();
    let (back, standing) = store.access_token_standing(&SecretHash::of("opaque")).await.unwrap().unwrap();
    assert_eq!((back.jti.as_str(), back.family_id.as_ref().map(|f| f.as_str())), ("j1", Some("fam")));
    let alice = TokenStanding { username: Some(u.username.clone()), ..TokenStanding::default() };
    assert_eq!(standing, alice);
    assert!(standing.is_live());
    assert!(store.revoke_access_token(&SecretHash::of("opaque"), 15).await.unwrap());
    assert!(!store.revoke_access_token(&SecretHash::of("opaque"), 16).await.unwrap());
    let (_, standing) = store.access_token_standing(&SecretHash::of("opaque")).await.unwrap().unwrap();
    assert_eq!((standing.revoked_at, standing.is_live()), (Some(15), false));
    assert_eq!(store.access_token(&SecretHash::of("opaque")).await.unwrap().unwrap().revoked_at, Some(15));
    // A JWT is recorded by jti only when revoked; twice is fine.
    assert_eq!(store.jwt_standing(&"j2".into(), None, &Subject::user(&u.id)).await.unwrap(), alice);
    let jwt = AccessTokenRow { jti: "j2".into(), family_id: None, ..row };
    store.revoke_jwt(&jwt, 17).await.unwrap();
    store.revoke_jwt(&jwt, 18).await.unwrap();
    assert_eq!(store.jwt_standing(&"j2".into(), None, &Subject::user(&u.id)).await.unwrap().revoked_at, Some(18));
    // A client's own token has no user; a revoked family makes its tokens not live.
    let client_token = store.jwt_standing(&"j3".into(), Some(&"fam".into()), &Subject::client(&c.id)).await.unwrap();
    assert_eq!(client_token, TokenStanding::default());
    store.insert_refresh_token(&refresh("rt", "fam", &c, &u)).await.unwrap();
    assert!(store.jwt_standing(&"j3".into(), Some(&"fam".into()), &Subject::client(&c.id)).await.unwrap().is_live());
    store.revoke_refresh_family(&"fam".into(), 19).await.unwrap();
    assert!(
        store.jwt_standing(&"j3".into(), Some(&"fam".into()), &Subject::client(&c.id)).await.unwrap().family_revoked
    );
    assert!(store.jwt_standing(&"j3".into(), Some(&"other".into()), &Subject::client(&c.id)).await.unwrap().is_live());
    let mut unrevoked = AccessTokenRow { jti: "j4".into(), ..jwt };
    unrevoked.family_id = Some("fam".into());
    store.insert_access_token(&SecretHash::of("opaque-fam"), &unrevoked).await.unwrap();
    let (_, standing) = store.access_token_standing(&SecretHash::of("opaque-fam")).await.unwrap().unwrap();
    assert_eq!((standing.revoked_at, standing.family_revoked), (None, true));
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
        (row.decision.as_deref(), row.user_id.as_ref().map(|u| u.as_str()), row.consumed_at),
        (Some("allow"), Some(u.id.as_str()), Some(130))
    );
}
