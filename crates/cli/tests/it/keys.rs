//! Signing key rotation: publish before signing, keep retired keys until their tokens
//! expire, three algorithms, encryption at rest.

use axum::Router;
use axum::routing::get;
use latchkey_flows::{KeyAlg, KeyPolicy, KeyRing};
use latchkey_resource::{Bearer, BearerAuth, BearerConfig};
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::*;

async fn kids(t: &TestServer) -> Vec<String> {
    let jwks: Value = t.http().get(format!("{}/jwks.json", t.url)).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

async fn token(t: &TestServer, client: &TestClient) -> String {
    let body: Value = t.token(client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn resource(t: &TestServer) -> String {
    async fn ok(_: Bearer) -> &'static str {
        "ok"
    }
    let mut config = BearerConfig::new(t.url.clone(), t.url.clone());
    config.refetch_interval = std::time::Duration::ZERO;
    let app = Router::new().route("/", get(ok)).with_state(BearerAuth::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn rotation_publishes_before_signing_and_retires_after_tokens_expire() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let api = resource(&t).await;
    let old = kids(&t).await;
    assert_eq!(old.len(), 1);
    let old_token = token(&t, &client).await;
    assert_eq!(t.http().get(&api).bearer_auth(&old_token).send().await.unwrap().status(), StatusCode::OK);

    for alg in [KeyAlg::EdDsa, KeyAlg::Rs256, KeyAlg::Es256] {
        let before = jsonwebtoken::decode_header(token(&t, &client).await).unwrap().kid.unwrap();
        let new = t.auth.keys().rotate(alg, t.auth.now()).await.unwrap();
        // Published at once, but not signing until the overlap has passed.
        assert!(kids(&t).await.contains(&new));
        assert_eq!(jsonwebtoken::decode_header(token(&t, &client).await).unwrap().kid.unwrap(), before);
        t.clock.advance(600);
        let fresh = token(&t, &client).await;
        let header = jsonwebtoken::decode_header(&fresh).unwrap();
        assert_eq!(header.kid.as_deref(), Some(new.as_str()));
        assert_eq!(format!("{:?}", header.alg), alg.as_str());
        // A resource server that cached the old key set finds the new key.
        assert_eq!(t.http().get(&api).bearer_auth(&fresh).send().await.unwrap().status(), StatusCode::OK, "{alg:?}");
    }
    // Tokens signed by the first key still verify while it is published.
    assert_eq!(t.http().get(&api).bearer_auth(&old_token).send().await.unwrap().status(), StatusCode::OK);

    t.auth.keys().retire(&old[0], t.auth.now()).await.unwrap();
    assert!(kids(&t).await.contains(&old[0]), "still published while its tokens may live");
    t.clock.advance(601);
    assert!(!kids(&t).await.contains(&old[0]), "gone once they have expired");
}

#[tokio::test]
async fn the_last_signing_key_cannot_be_retired() {
    let t = TestServer::start().await;
    let only = kids(&t).await.remove(0);
    let err = t.auth.keys().retire(&only, t.auth.now()).await.unwrap_err();
    assert!(err.to_string().contains("rotate"), "{err}");
}

#[tokio::test]
async fn private_keys_are_encrypted_at_rest_when_a_secret_is_set() {
    let secret = "correct horse battery staple";
    let t = TestServer::start_with(|s| s.keys.encryption_secret = Some(secret.into())).await;
    let client = t.confidential_client().await;
    token(&t, &client).await;
    let rows = t.auth.store().signing_keys(0).await.unwrap();
    assert!(rows.iter().all(|k| k.encrypted));
    // So is the key that seals authorization codes: a marker byte, then nonce, key and tag.
    let code_key = t.auth.store().server_secret("code_sealing_key", b"", 0).await.unwrap();
    assert_eq!((code_key[0], code_key.len()), (1, 1 + 12 + 32 + 16));
    let policy = |s: Option<&str>| KeyPolicy { encryption_secret: s.map(Into::into), ..KeyPolicy::default() };
    let now = t.auth.now();
    let err = KeyRing::load_or_create(t.auth.store(), policy(None), now).await.unwrap_err();
    assert!(err.to_string().contains("key_encryption_secret"), "{err}");
    let err =
        KeyRing::load_or_create(t.auth.store(), policy(Some("wrong secret, long enough")), now).await.unwrap_err();
    assert!(err.to_string().contains("decrypt"), "{err}");
    KeyRing::load_or_create(t.auth.store(), policy(Some(secret)), now).await.unwrap();
}
