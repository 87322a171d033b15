//! Metadata (RFC 8414), JWKS, health.

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::*;

#[tokio::test]
async fn rfc8414_3_metadata_names_every_endpoint_and_capability() {
    let t = TestServer::start().await;
    let res = t.http().get(format!("{}/.well-known/oauth-authorization-server", t.url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let m: Value = res.json().await.unwrap();
    assert_eq!(m["issuer"], t.url.as_str(), "§3.3: issuer equals the URL it was fetched from");
    assert_eq!(m["authorization_endpoint"], format!("{}/authorize", t.url));
    assert_eq!(m["token_endpoint"], format!("{}/token", t.url));
    assert_eq!(m["jwks_uri"], format!("{}/jwks.json", t.url));
    assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(m["code_challenge_methods_supported"], serde_json::json!(["S256"]));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!([
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code"
        ])
    );
    assert_eq!(
        m["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(m["scopes_supported"], serde_json::json!(["profile", "notes:read", "notes:write"]));
}

#[tokio::test]
async fn rfc7517_jwks_publishes_the_signing_key_and_tokens_verify_with_it() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let jwks: jsonwebtoken::jwk::JwkSet =
        t.http().get(format!("{}/jwks.json", t.url)).send().await.unwrap().json().await.unwrap();
    assert_eq!(jwks.keys.len(), 1);
    let jwk = &jwks.keys[0];
    let body: Value = t.token(&client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid, jwk.common.key_id);
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    v.set_audience(&[&t.url]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    jsonwebtoken::decode::<Value>(token, &key, &v).unwrap();
    // The JWKS carries no private part.
    let raw = t.http().get(format!("{}/jwks.json", t.url)).send().await.unwrap().text().await.unwrap();
    assert!(!raw.contains("\"d\""), "{raw}");
}

#[tokio::test]
async fn signing_key_survives_a_restart() {
    let t = TestServer::start().await;
    let first = t.auth.keys().jwks(t.auth.now()).await.unwrap().keys[0].common.key_id.clone();
    let store = latchkey_store::Store::connect(&t.db_url, &Default::default()).await.unwrap();
    let again = latchkey_flows::KeyRing::load_or_create(&store, Default::default(), t.auth.now()).await.unwrap();
    assert_eq!(again.jwks(t.auth.now()).await.unwrap().keys[0].common.key_id, first);
}

#[tokio::test]
async fn healthz_and_readyz() {
    let t = TestServer::start().await;
    assert_eq!(t.http().get(format!("{}/healthz", t.url)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(t.http().get(format!("{}/readyz", t.url)).send().await.unwrap().status(), StatusCode::OK);
    t.store.close().await;
    assert_eq!(
        t.http().get(format!("{}/readyz", t.url)).send().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(t.http().get(format!("{}/healthz", t.url)).send().await.unwrap().status(), StatusCode::OK);
    // With the database gone, the token endpoint answers in the RFC's format, not a hang.
    let client = TestClient { id: "x".into(), secret: Some("y".into()), redirect_uri: String::new() };
    let res = t.token(&client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_code(res).await, "temporarily_unavailable");
}
