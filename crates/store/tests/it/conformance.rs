//! What every backend must do, written once.

use std::sync::Arc;

use latchkey_protocol::Scope;
use latchkey_protocol::client::{Client, GrantType};
use latchkey_protocol::pkce::CodeChallenge;
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::token::{CodeGrant, RefreshGrant};
use latchkey_store::{NewRefreshToken, Session, SigningKeyRow, Store, StoreError, User};

fn client(id: &str) -> Client {
    Client {
        id: id.into(),
        name: format!("Client {id}"),
        secret_hash: Some(SecretHash::of("secret")),
        redirect_uris: vec![
            "https://app.example/cb".into(),
            "http://127.0.0.1/cb".into(),
        ],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
        scopes: Some(Scope::from_tokens(["profile"])),
        require_pkce: true,
        created_at: 1000,
    }
}

async fn user(store: &Store, name: &str) -> User {
    let u = User {
        id: format!("u-{name}"),
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

fn code_grant(c: &Client, u: &User) -> CodeGrant {
    CodeGrant {
        client_id: c.id.clone(),
        user_id: u.id.clone(),
        redirect_uri: "https://app.example/cb".into(),
        redirect_uri_given: true,
        scope: Scope::from_tokens(["profile"]),
        code_challenge: Some(CodeChallenge::s256("v".repeat(43).as_str())),
        expires_at: 2000,
    }
}

fn refresh(token: &str, family: &str, c: &Client, u: &User, code: Option<&str>) -> NewRefreshToken {
    NewRefreshToken {
        hash: SecretHash::of(token),
        family_id: family.into(),
        code_hash: code.map(SecretHash::of),
        grant: RefreshGrant {
            client_id: c.id.clone(),
            user_id: u.id.clone(),
            scope: Scope::from_tokens(["profile"]),
            expires_at: 9000,
        },
        created_at: 1000,
    }
}

pub async fn clients_round_trip(store: &Store) {
    let c = client("c1");
    store.insert_client(&c).await.unwrap();
    assert!(matches!(
        store.insert_client(&c).await,
        Err(StoreError::Conflict)
    ));
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
    assert!(
        store
            .set_client_secret("c1", &SecretHash::of("new"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .set_client_secret("c0", &SecretHash::of("new"))
            .await
            .unwrap(),
        "a public client gets no secret"
    );
    assert!(
        store
            .client("c1")
            .await
            .unwrap()
            .unwrap()
            .secret_hash
            .unwrap()
            .ct_eq(&SecretHash::of("new"))
    );
    assert!(store.delete_client("c0").await.unwrap());
    assert!(!store.delete_client("c0").await.unwrap());
}

pub async fn users_are_unique_and_removable(store: &Store) {
    user(store, "alice").await;
    let dup = User {
        id: "other".into(),
        username: "alice".into(),
        password_hash: "x".into(),
        created_at: 1,
    };
    assert!(matches!(
        store.insert_user(&dup).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.user_by_name("alice").await.unwrap().unwrap().id,
        "u-alice"
    );
    assert!(
        store
            .set_password_hash("alice", "$argon2id$new")
            .await
            .unwrap()
    );
    assert_eq!(
        store.user("u-alice").await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert_eq!(store.users().await.unwrap().len(), 1);
    assert!(store.delete_user("alice").await.unwrap());
    assert!(store.user_by_name("alice").await.unwrap().is_none());
}

pub async fn sessions_expire(store: &Store) {
    let (_, u) = seed(store).await;
    let id = SecretHash::of("session");
    store
        .insert_session(
            &id,
            &Session {
                user_id: u.id.clone(),
                created_at: 100,
                expires_at: 200,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.session(&id, 150).await.unwrap().unwrap().user_id,
        u.id
    );
    assert!(store.session(&id, 200).await.unwrap().is_none());
    store.delete_session(&id).await.unwrap();
    assert!(store.session(&id, 150).await.unwrap().is_none());
}

pub async fn consent_widens(store: &Store) {
    let (c, u) = seed(store).await;
    assert!(store.consent(&u.id, &c.id).await.unwrap().is_none());
    store
        .grant_consent(&u.id, &c.id, &Scope::from_tokens(["a"]), 1)
        .await
        .unwrap();
    store
        .grant_consent(&u.id, &c.id, &Scope::from_tokens(["b"]), 2)
        .await
        .unwrap();
    assert_eq!(
        store
            .consent(&u.id, &c.id)
            .await
            .unwrap()
            .unwrap()
            .to_string(),
        "a b"
    );
}

pub async fn rfc6749_4_1_2_code_consumed_once_under_race(store: &Store) {
    let (c, u) = seed(store).await;
    for round in 0..10 {
        let hash = SecretHash::of(&format!("code-{round}"));
        store
            .insert_code(&hash, &code_grant(&c, &u), 1000)
            .await
            .unwrap();
        let stored = store.code(&hash).await.unwrap().unwrap();
        assert_eq!(stored.grant.redirect_uri, "https://app.example/cb");
        assert!(stored.consumed_at.is_none());
        let store = Arc::new(store.clone());
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (store, hash) = (store.clone(), hash.clone());
                tokio::spawn(async move { store.consume_code(&hash, 1500).await.unwrap() })
            })
            .collect();
        let mut wins = 0;
        for t in tasks {
            wins += usize::from(t.await.unwrap());
        }
        assert_eq!(wins, 1, "exactly one redemption wins");
        assert_eq!(
            store.code(&hash).await.unwrap().unwrap().consumed_at,
            Some(1500)
        );
    }
}

pub async fn rfc9700_4_14_2_refresh_rotates_once_under_race(store: &Store) {
    let (c, u) = seed(store).await;
    store
        .insert_refresh_token(&refresh("rt0", "fam", &c, &u, Some("code")))
        .await
        .unwrap();
    let store = Arc::new(store.clone());
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let (c, u) = (c.clone(), u.clone());
            tokio::spawn(async move {
                store
                    .rotate_refresh_token(
                        &SecretHash::of("rt0"),
                        &refresh(&format!("rt1-{i}"), "fam", &c, &u, Some("code")),
                        1100,
                    )
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
    let old = store
        .refresh_token(&SecretHash::of("rt0"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(old.rotated_at, Some(1100));
    assert_eq!(old.family_id, "fam");
}

pub async fn rfc9700_4_14_2_family_and_code_revocation(store: &Store) {
    let (c, u) = seed(store).await;
    store
        .insert_refresh_token(&refresh("a1", "famA", &c, &u, Some("codeA")))
        .await
        .unwrap();
    assert!(
        store
            .rotate_refresh_token(
                &SecretHash::of("a1"),
                &refresh("a2", "famA", &c, &u, Some("codeA")),
                1
            )
            .await
            .unwrap()
    );
    store
        .insert_refresh_token(&refresh("b1", "famB", &c, &u, Some("codeB")))
        .await
        .unwrap();
    assert_eq!(store.revoke_refresh_family("famA", 5).await.unwrap(), 2);
    assert_eq!(
        store
            .refresh_token(&SecretHash::of("a2"))
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(5)
    );
    assert!(
        store
            .refresh_token(&SecretHash::of("b1"))
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    // A revoked token cannot be rotated.
    assert!(
        !store
            .rotate_refresh_token(
                &SecretHash::of("a2"),
                &refresh("a3", "famA", &c, &u, None),
                6
            )
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .revoke_refresh_by_code(&SecretHash::of("codeB"), 7)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .refresh_token(&SecretHash::of("b1"))
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(7)
    );
}

pub async fn removing_a_client_removes_what_it_was_issued(store: &Store) {
    let (c, u) = seed(store).await;
    let code = SecretHash::of("code");
    store
        .insert_code(&code, &code_grant(&c, &u), 1)
        .await
        .unwrap();
    store
        .insert_refresh_token(&refresh("rt", "fam", &c, &u, None))
        .await
        .unwrap();
    store
        .grant_consent(&u.id, &c.id, &Scope::from_tokens(["profile"]), 1)
        .await
        .unwrap();
    assert!(store.delete_client(&c.id).await.unwrap());
    assert!(store.code(&code).await.unwrap().is_none());
    assert!(
        store
            .refresh_token(&SecretHash::of("rt"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.consent(&u.id, &c.id).await.unwrap().is_none());
}

pub async fn signing_keys_round_trip(store: &Store) {
    assert!(store.signing_keys().await.unwrap().is_empty());
    for (kid, at) in [("k1", 1), ("k2", 2)] {
        let k = SigningKeyRow {
            kid: kid.into(),
            alg: "ES256".into(),
            private_der: vec![1, 2, 3],
            created_at: at,
            retired_at: None,
        };
        store.insert_signing_key(&k).await.unwrap();
    }
    let keys = store.signing_keys().await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    assert_eq!(keys[0].private_der, vec![1, 2, 3]);
}
