//! Clients, users, sessions and consent; client registration (RFC 7591, RFC 7592).

use latchkey_protocol::client::TokenFormat;
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{ClientId, Scope};

use super::{client, refresh, seed, user};
use crate::{Session, Store, StoreError, User};

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
    assert_eq!(store.user(&"u-alice".into()).await.unwrap().unwrap().password_hash, "$argon2id$new");
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
    assert!(
        store.session_user_consent(&sid, &ClientId::from("another-client"), 50).await.unwrap().unwrap().1.is_none()
    );
    assert!(asked(100).await.unwrap().is_none(), "the session has ended");
}

/// Only the operator marks a client as a resource server (RFC 7662 §4).
pub async fn client_introspection_flag(store: &Store) {
    let (c, _) = seed(store).await;
    assert!(!store.client(c.id.as_str()).await.unwrap().unwrap().may_introspect);
    assert!(store.set_client_introspection(c.id.as_str(), true).await.unwrap());
    assert!(store.client(c.id.as_str()).await.unwrap().unwrap().may_introspect);
    assert!(!store.set_client_introspection("nobody", true).await.unwrap());
    assert!(!store.client(c.id.as_str()).await.unwrap().unwrap().registered_dynamically);
    assert!(store.set_registration_token(c.id.as_str(), &SecretHash::of("reg")).await.unwrap());
    assert!(store.client(c.id.as_str()).await.unwrap().unwrap().registered_dynamically);
}

/// Deleting a client deletes its refresh tokens and consents.
pub async fn removing_a_client_removes_what_it_was_issued(store: &Store) {
    let (c, u) = seed(store).await;
    store.insert_refresh_token(&refresh("rt", "fam", &c, &u)).await.unwrap();
    store.grant_consent(&u.id, &c.id, &Scope::from_tokens(["profile"]), 1).await.unwrap();
    assert!(store.delete_client(c.id.as_str()).await.unwrap());
    assert!(store.refresh_token(&SecretHash::of("rt")).await.unwrap().is_none());
    assert!(store.consent(&u.id, &c.id).await.unwrap().is_none());
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
