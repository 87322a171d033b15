//! The key cache against a JWKS server this test controls, and the `exp` leeway.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::{BearerAuth, BearerConfig, BearerError, DEFAULT_LEEWAY};

const KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7ht7lj54AlhjMbzE
8sKJ7uOiV9U29T4R52z1EhtMJmOhRANCAAScTvB8n9jeNQxdJW7CC9eI4nY/YSkl
fu8mlsDw5QXZasi/1dIpMWXWVU8dm306DcktSujyWaDSm8IbLehZQzZX
-----END PRIVATE KEY-----
";
const ISS: &str = "https://as.example";
const NOW: i64 = 1_800_000_000;
/// Only so that a test that would hang fails instead; never reached when it passes.
const HANG: Duration = Duration::from_secs(60);

fn key() -> EncodingKey {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    EncodingKey::from_ec_pem(KEY.as_bytes()).unwrap()
}

fn jwks(kids: &[&str]) -> Value {
    let keys = kids
        .iter()
        .map(|kid| {
            let mut jwk = Jwk::from_encoding_key(&key(), Algorithm::ES256).unwrap();
            jwk.common.key_id = Some((*kid).to_owned());
            jwk
        })
        .collect();
    serde_json::to_value(JwkSet { keys }).unwrap()
}

fn token(kid: &str, exp: i64) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid.into());
    let claims = json!({ "iss": ISS, "sub": "u1", "aud": "api", "client_id": "c", "scope": "profile",
        "iat": exp - 60, "exp": exp, "jti": "j" });
    jsonwebtoken::encode(&header, &claims, &key()).unwrap()
}

/// A JWKS server: the first request gets key `k1`; every later one waits until the test
/// releases it, then gets `k1` and `k2`.
struct Slow {
    requests: AtomicUsize,
    waiting: Notify,
    release: Notify,
}

async fn serve_jwks(State(slow): State<Arc<Slow>>) -> Json<Value> {
    if slow.requests.fetch_add(1, Ordering::SeqCst) == 0 {
        return Json(jwks(&["k1"]));
    }
    slow.waiting.notify_one();
    slow.release.notified().await;
    Json(jwks(&["k1", "k2"]))
}

async fn slow_jwks_server() -> (String, Arc<Slow>) {
    let slow = Arc::new(Slow { requests: AtomicUsize::new(0), waiting: Notify::new(), release: Notify::new() });
    let app = axum::Router::new().route("/jwks.json", get(serve_jwks)).with_state(slow.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, slow)
}

async fn auth(leeway: Option<Duration>) -> (BearerAuth, Arc<Slow>) {
    let (url, slow) = slow_jwks_server().await;
    let mut config = BearerConfig::new(ISS, "api");
    config.jwks_uri = Some(url);
    config.refetch_interval = Duration::ZERO;
    if let Some(leeway) = leeway {
        config = config.with_leeway(leeway);
    }
    (BearerAuth::new(config), slow)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_jwks_fetch_for_an_unknown_kid_does_not_hold_up_known_keys() {
    let (auth, slow) = auth(None).await;
    let known = token("k1", NOW + 300);
    assert!(auth.validate_at(&known, NOW).await.is_ok(), "first fetch");

    // A token naming a new key: its fetch hangs at the server until released.
    let unknown = tokio::spawn({
        let auth = auth.clone();
        async move { auth.validate_at(&token("k2", NOW + 300), NOW).await }
    });
    tokio::time::timeout(HANG, slow.waiting.notified()).await.expect("the fetch reached the server");
    // Meanwhile, tokens signed by the known key are validated.
    for _ in 0..3 {
        let answer = tokio::time::timeout(HANG, auth.validate_at(&known, NOW)).await;
        assert!(answer.expect("a known kid waited for the fetch").is_ok());
    }
    // Another unknown-kid request waits for the fetch in progress instead of starting one.
    let second = tokio::spawn({
        let auth = auth.clone();
        async move { auth.validate_at(&token("k2", NOW + 300), NOW).await }
    });
    slow.release.notify_one();
    assert!(tokio::time::timeout(HANG, unknown).await.unwrap().unwrap().is_ok(), "k2 found");
    assert!(tokio::time::timeout(HANG, second).await.unwrap().unwrap().is_ok(), "k2 found");
    assert_eq!(slow.requests.load(Ordering::SeqCst), 2, "one fetch for both");
}

#[tokio::test]
async fn rfc7519_4_1_4_a_token_is_refused_from_exp_plus_the_leeway_on() {
    assert_eq!(BearerConfig::new(ISS, "api").leeway, Duration::from_secs(5));
    for leeway in [None, Some(Duration::ZERO), Some(Duration::from_secs(30))] {
        let (auth, _) = auth(leeway).await;
        let leeway = i64::try_from(leeway.unwrap_or(DEFAULT_LEEWAY).as_secs()).unwrap();
        let exp = NOW - 20;
        let token = token("k1", exp);
        let just_before = auth.validate_at(&token, exp + leeway - 1).await;
        assert!(just_before.is_ok(), "leeway {leeway}: {just_before:?}");
        let just_past = auth.validate_at(&token, exp + leeway).await;
        assert!(
            matches!(&just_past, Err(BearerError::InvalidToken { description, .. }) if description.contains("expired")),
            "leeway {leeway}: {just_past:?}"
        );
    }
}
