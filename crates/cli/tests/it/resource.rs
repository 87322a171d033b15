//! `latchkey-resource` in front of a real axum route: RFC 6750 §2.1 and §3, RFC 9068 §4.

use axum::Json;
use axum::Router;
use axum::routing::get;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use latchkey_resource::{Bearer, BearerAuth, BearerConfig, BearerError};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

async fn profile(token: Bearer) -> Result<Json<Value>, BearerError> {
    token.require_scope("profile")?;
    Ok(Json(json!({ "sub": token.claims.sub })))
}

struct Api {
    url: String,
    t: TestServer,
}

async fn api() -> Api {
    let t = TestServer::start().await;
    let auth = BearerAuth::new(BearerConfig::new(t.url.clone(), t.url.clone()));
    let app = Router::new().route("/profile", get(profile)).with_state(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Api { url, t }
}

impl Api {
    async fn call(&self, authorization: Option<&str>) -> reqwest::Response {
        let mut req = self.t.http().get(format!("{}/profile", self.url));
        if let Some(a) = authorization {
            req = req.header("authorization", a);
        }
        req.send().await.unwrap()
    }

    async fn token(&self, scope: &str) -> String {
        let client = self.t.confidential_client().await;
        let body: Value = self
            .t
            .token(&client, &[("grant_type", "client_credentials"), ("scope", scope)])
            .await
            .json()
            .await
            .unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// Signs arbitrary claims with the server's own key (to build expired or odd tokens).
    async fn forge(&self, typ: &str, claims: Value) -> String {
        let key = &self.t.store.signing_keys(0).await.unwrap()[0];
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(typ.into());
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ec_der(&key.private_der)).unwrap()
    }

    fn claims(&self, exp_offset: i64) -> Value {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        json!({ "iss": self.t.url, "sub": "u1", "aud": self.t.url, "client_id": "c", "scope": "profile", "iat": now - 10, "exp": now + exp_offset, "jti": "j" })
    }
}

fn challenge(res: &reqwest::Response) -> String {
    res.headers()["www-authenticate"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn rfc6750_2_1_valid_bearer_token_reaches_the_handler() {
    let api = api().await;
    let token = api.token("profile").await;
    let res = api.call(Some(&format!("Bearer {token}"))).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert!(body["sub"].is_string());
    // The scheme is case-insensitive.
    assert_eq!(api.call(Some(&format!("bearer {token}"))).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn rfc6750_3_1_no_credentials_get_a_bare_challenge() {
    let api = api().await;
    let res = api.call(None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), r#"Bearer realm="api""#);
    // §2.3 query tokens are not accepted: still no credentials.
    let token = api.token("profile").await;
    let res = api.t.http().get(format!("{}/profile?access_token={token}", api.url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(challenge(&res), r#"Bearer realm="api""#);
    // Another scheme is no bearer credential either.
    assert_eq!(challenge(&api.call(Some("Basic YTpi")).await), r#"Bearer realm="api""#);
}

#[tokio::test]
async fn rfc6750_3_1_malformed_request_is_400_invalid_request() {
    let api = api().await;
    for header in ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b"] {
        let res = api.call(Some(header)).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{header}");
        assert!(challenge(&res).contains(r#"error="invalid_request""#));
    }
}

#[tokio::test]
async fn rfc6750_3_1_bad_tokens_are_401_invalid_token() {
    let api = api().await;
    let good = api.token("profile").await;
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let expired = api.forge("at+jwt", api.claims(-3600)).await;
    let wrong_typ = api.forge("JWT", api.claims(600)).await;
    let mut wrong_aud = api.claims(600);
    wrong_aud["aud"] = json!("https://other.example");
    let wrong_aud = api.forge("at+jwt", wrong_aud).await;
    let mut wrong_iss = api.claims(600);
    wrong_iss["iss"] = json!("https://evil.example");
    let wrong_iss = api.forge("at+jwt", wrong_iss).await;
    let mut future = api.claims(600);
    future["nbf"] = json!(future["exp"]);
    let not_yet = api.forge("at+jwt", future).await;
    // alg none, and HS256 "signed" with the public key (algorithm confusion).
    use base64::Engine;
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let kid = api.t.auth.keys().jwks(api.t.auth.now()).await.unwrap().keys[0].common.key_id.clone().unwrap();
    let none = format!("{}.{}.", b64(&json!({"alg":"none","typ":"at+jwt","kid":kid})), b64(&api.claims(600)));
    let jwks_text = api.t.http().get(format!("{}/jwks.json", api.t.url)).send().await.unwrap().text().await.unwrap();
    let mut hs = Header::new(Algorithm::HS256);
    hs.typ = Some("at+jwt".into());
    hs.kid = Some(kid.clone());
    let confused =
        jsonwebtoken::encode(&hs, &api.claims(600), &EncodingKey::from_secret(jwks_text.as_bytes()).unwrap()).unwrap();
    let mut foreign = Header::new(Algorithm::ES256);
    foreign.typ = Some("at+jwt".into());
    foreign.kid = Some("someone-elses-key".into());
    let key = &api.t.store.signing_keys(0).await.unwrap()[0];
    let foreign =
        jsonwebtoken::encode(&foreign, &api.claims(600), &EncodingKey::from_ec_der(&key.private_der)).unwrap();

    for (name, token) in [
        ("garbage", "not-a-jwt".to_owned()),
        ("tampered", tampered),
        ("expired", expired),
        ("wrong typ", wrong_typ),
        ("wrong aud", wrong_aud),
        ("wrong iss", wrong_iss),
        ("not yet valid", not_yet),
        ("alg none", none),
        ("HS256 with the public key", confused),
        ("foreign kid", foreign),
    ] {
        let res = api.call(Some(&format!("Bearer {token}"))).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(challenge(&res).contains(r#"error="invalid_token""#), "{name}: {}", challenge(&res));
    }
}

#[tokio::test]
async fn rfc6750_3_1_missing_scope_is_403_insufficient_scope() {
    let api = api().await;
    let token = api.token("notes:read").await;
    let res = api.call(Some(&format!("Bearer {token}"))).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let c = challenge(&res);
    assert!(c.contains(r#"error="insufficient_scope""#) && c.contains(r#"scope="profile""#), "{c}");
}

async fn introspecting_api(t: &TestServer, cache_ttl: std::time::Duration) -> String {
    let rs = t.resource_server().await;
    let mut config = BearerConfig::new(t.url.clone(), t.url.clone());
    let mut introspection = latchkey_resource::IntrospectionConfig::new(rs.id.clone(), rs.secret.clone().unwrap());
    introspection.cache_ttl = cache_ttl;
    config.introspection = Some(introspection);
    let app = Router::new().route("/profile", get(profile)).with_state(BearerAuth::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn rfc7662_introspection_mode_accepts_opaque_tokens_and_sees_revocation_at_once() {
    let t = TestServer::start().await;
    let url = introspecting_api(&t, std::time::Duration::ZERO).await;
    let client = t
        .client_with(latchkey_flows::NewClient {
            name: "Opaque".into(),
            grant_types: vec![latchkey_protocol::client::GrantType::ClientCredentials],
            token_format: latchkey_protocol::client::TokenFormat::Opaque,
            ..Default::default()
        })
        .await;
    let body: Value =
        t.token(&client, &[("grant_type", "client_credentials"), ("scope", "profile")]).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let call = || t.http().get(format!("{url}/profile")).bearer_auth(token).send();
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);
    let res = t
        .http()
        .post(format!("{}/revoke", t.url))
        .basic_auth(&client.id, client.secret.as_ref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = call().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&res).contains("invalid_token"));
    // Unknown tokens are refused the same way.
    let res = t.http().get(format!("{url}/profile")).bearer_auth("lka_nothing").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn introspection_answers_are_cached_for_the_configured_time() {
    let t = TestServer::start().await;
    let url = introspecting_api(&t, std::time::Duration::from_secs(300)).await;
    let client = t.confidential_client().await;
    let body: Value =
        t.token(&client, &[("grant_type", "client_credentials"), ("scope", "profile")]).await.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    let call = || t.http().get(format!("{url}/profile")).bearer_auth(token).send();
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);
    t.http()
        .post(format!("{}/revoke", t.url))
        .basic_auth(&client.id, client.secret.as_ref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    // Within the cache time the earlier answer stands: the trade-off the TTL sets.
    assert_eq!(call().await.unwrap().status(), StatusCode::OK);
}
