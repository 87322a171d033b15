//! Revocation (RFC 7009), introspection (RFC 7662) and opaque access tokens, over HTTP.

use latchkey_flows::NewClient;
use latchkey_protocol::client::{GrantType, TokenFormat};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

async fn post(t: &TestServer, path: &str, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = t.http().post(format!("{}{path}", t.url));
    let mut form = form.to_vec();
    match &client.secret {
        Some(s) => req = req.basic_auth(&client.id, Some(s)),
        None => form.push(("client_id", &client.id)),
    }
    req.form(&form).send().await.unwrap()
}

async fn introspect(t: &TestServer, rs: &TestClient, token: &str) -> Value {
    let res = post(t, "/introspect", rs, &[("token", token)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

async fn opaque_client(t: &TestServer) -> TestClient {
    t.client_with(NewClient {
        name: "Opaque".into(),
        redirect_uris: vec!["https://opaque.example/cb".into()],
        grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials],
        token_format: TokenFormat::Opaque,
        ..NewClient::default()
    })
    .await
}

#[tokio::test]
async fn rfc7662_2_2_active_access_token_answers_every_field() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let rs = t.resource_server().await;
    t.user("alice").await;
    for c in [client.clone(), opaque_client(&t).await] {
        let tokens = t.tokens_for(&c, "alice").await;
        let at = tokens["access_token"].as_str().unwrap();
        let r = introspect(&t, &rs, at).await;
        assert_eq!(r["active"], true, "{r}");
        assert_eq!(r["client_id"], c.id.as_str());
        assert_eq!(r["username"], "alice");
        // RFC 7662 §2.2: the RFC 6749 §5.1 token type, not a token type hint.
        assert_eq!(r["token_type"], "Bearer");
        assert_eq!(r["iss"], t.url.as_str());
        assert_eq!(r["aud"], t.url.as_str());
        for f in ["scope", "exp", "iat", "nbf", "sub", "jti"] {
            assert!(!r[f].is_null(), "{f} missing: {r}");
        }
    }
}

#[tokio::test]
async fn rfc7662_2_2_unknown_expired_and_malformed_tokens_are_only_inactive() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let body: Value = t.token(&client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let jwt = body["access_token"].as_str().unwrap().to_owned();
    let mut tampered = jwt.clone();
    tampered.pop();
    tampered.push(if jwt.ends_with('A') { 'B' } else { 'A' });
    for token in ["nonsense", "lka_unknown", "a.b.c", tampered.as_str()] {
        assert_eq!(introspect(&t, &client, token).await, json!({"active": false}), "{token}");
    }
    t.clock.advance(601);
    assert_eq!(introspect(&t, &client, &jwt).await, json!({"active": false}), "expired");
}

#[tokio::test]
async fn rfc7662_2_1_introspection_needs_an_authenticated_confidential_client() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let public = t.public_client().await;
    let res = t.http().post(format!("{}/introspect", t.url)).form(&[("token", "x")]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(post(&t, "/introspect", &public, &[("token", "x")]).await).await, "invalid_client");
    let wrong = TestClient { secret: Some("wrong".into()), ..client.clone() };
    assert_eq!(post(&t, "/introspect", &wrong, &[("token", "x")]).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(error_code(post(&t, "/introspect", &client, &[]).await).await, "invalid_request");
}

#[tokio::test]
async fn rfc7009_2_1_revoked_access_tokens_are_inactive_at_once() {
    let t = TestServer::start().await;
    let rs = t.resource_server().await;
    t.user("alice").await;
    for c in [t.confidential_client().await, opaque_client(&t).await] {
        let tokens = t.tokens_for(&c, "alice").await;
        let at = tokens["access_token"].as_str().unwrap();
        assert_eq!(introspect(&t, &rs, at).await["active"], true);
        let res = post(&t, "/revoke", &c, &[("token", at), ("token_type_hint", "access_token")]).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(introspect(&t, &rs, at).await, json!({"active": false}));
        // Revoking an access token leaves the refresh token alone.
        let rt = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(
            t.token(&c, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn rfc7009_2_1_revoking_a_refresh_token_revokes_its_family_and_access_tokens() {
    let t = TestServer::start().await;
    let rs = t.resource_server().await;
    t.user("alice").await;
    for c in [t.confidential_client().await, opaque_client(&t).await] {
        let first = t.tokens_for(&c, "alice").await;
        let rt1 = first["refresh_token"].as_str().unwrap();
        let second: Value =
            t.token(&c, &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await.json().await.unwrap();
        let rt2 = second["refresh_token"].as_str().unwrap();
        assert_eq!(introspect(&t, &rs, second["access_token"].as_str().unwrap()).await["active"], true);
        // The hint says access_token, wrongly: it is not trusted (§2.1).
        assert_eq!(
            post(&t, "/revoke", &c, &[("token", rt2), ("token_type_hint", "access_token")]).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            error_code(t.token(&c, &[("grant_type", "refresh_token"), ("refresh_token", rt2)]).await).await,
            "invalid_grant"
        );
        for at in [first["access_token"].as_str().unwrap(), second["access_token"].as_str().unwrap()] {
            assert_eq!(introspect(&t, &rs, at).await, json!({"active": false}));
        }
    }
}

#[tokio::test]
async fn rfc7009_2_2_unknown_or_already_revoked_tokens_answer_200() {
    let t = TestServer::start().await;
    let c = t.confidential_client().await;
    t.user("alice").await;
    let tokens = t.tokens_for(&c, "alice").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    for token in ["never-issued", rt, rt] {
        let res = post(&t, "/revoke", &c, &[("token", token)]).await;
        assert_eq!(res.status(), StatusCode::OK, "{token}");
    }
    assert_eq!(error_code(post(&t, "/revoke", &c, &[]).await).await, "invalid_request");
    let wrong = TestClient { secret: Some("wrong".into()), ..c.clone() };
    assert_eq!(post(&t, "/revoke", &wrong, &[("token", rt)]).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.http().get(format!("{}/revoke", t.url)).send().await.unwrap().status(),
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test]
async fn rfc7009_2_1_a_client_revokes_only_its_own_tokens() {
    let t = TestServer::start().await;
    let owner = t.confidential_client().await;
    let other = t.confidential_client().await;
    t.user("alice").await;
    let tokens = t.tokens_for(&owner, "alice").await;
    for token in [tokens["refresh_token"].as_str().unwrap(), tokens["access_token"].as_str().unwrap()] {
        let res = post(&t, "/revoke", &other, &[("token", token)]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error_code(res).await, "unauthorized_client");
        assert_eq!(introspect(&t, &owner, token).await["active"], true, "unharmed");
    }
    // A public client revokes its own token naming itself.
    let public = t.public_client().await;
    let tokens = t.tokens_for(&public, "alice").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(post(&t, "/revoke", &public, &[("token", rt)]).await.status(), StatusCode::OK);
    assert_eq!(
        error_code(t.token(&public, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await).await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn rfc7662_refresh_tokens_are_introspected_only_by_their_own_client() {
    let t = TestServer::start().await;
    let owner = t.confidential_client().await;
    let other = t.confidential_client().await;
    t.user("alice").await;
    let tokens = t.tokens_for(&owner, "alice").await;
    let rt = tokens["refresh_token"].as_str().unwrap();
    let mine = introspect(&t, &owner, rt).await;
    assert_eq!(mine["active"], true);
    assert!(mine.get("token_type").is_none(), "a refresh token has no RFC 6749 §5.1 type: {mine}");
    assert_eq!(introspect(&t, &other, rt).await, json!({"active": false}));
    let res = post(&t, "/introspect", &owner, &[("token", rt), ("token_type_hint", "refresh_token")]).await;
    assert_eq!(res.json::<Value>().await.unwrap()["active"], true);
}

#[tokio::test]
async fn opaque_tokens_are_random_and_stored_only_as_digests() {
    let t = TestServer::start().await;
    let c = opaque_client(&t).await;
    let body: Value = t.token(&c, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    let at = body["access_token"].as_str().unwrap();
    assert!(at.starts_with("lka_") && at.len() == 55 && !at.contains('.'), "{at}");
    let path = t.db_url.trim_start_matches("sqlite://").to_owned();
    for file in [path.clone(), format!("{path}-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(!bytes.windows(at.len()).any(|w| w == at.as_bytes()), "{file}");
    }
    assert_eq!(introspect(&t, &c, at).await["sub"], c.id.as_str());
}
