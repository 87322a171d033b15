//! The benchmark's floor: a minimal axum program that does only the unavoidable work of
//! each scenario, with the crates Latchkey uses, so Latchkey's rates can be read as a
//! share of what this machine allows (issue 5).
//!
//! - `POST /sign`: parse the form, check HTTP Basic credentials against a stored SHA-256
//!   digest in constant time, sign one ES256 JWT (jsonwebtoken on aws-lc-rs).
//! - `POST /write`: parse and check as above, insert one token row into SQLite (WAL,
//!   `synchronous=NORMAL`, as Latchkey opens it).
//! - `POST /read`: parse and check as above, read one row by its key (the `token` field).
//! - `GET /verify`: verify a Latchkey access token (signature, `iss`, `aud`, `exp`) with
//!   the issuer's JWKS, read once at start: the bare floor of scenario 7.
//! - `GET /resource`: the same token through `latchkey-resource` (scenario 7 itself; a
//!   resource server is a library inside somebody's program, so it is measured in one).
//!
//! Settings from the environment: `BASELINE_BIND`, `BASELINE_DB` (SQLite file),
//! `BASELINE_CLIENT_ID`, `BASELINE_CLIENT_SECRET`, `BASELINE_ISSUER` (a running Latchkey).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use latchkey_resource::{Bearer, BearerAuth, BearerConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use subtle::ConstantTimeEq;

struct Baseline {
    client_id: String,
    secret_digest: [u8; 32],
    issuer: String,
    signing: EncodingKey,
    verifying: HashMap<String, DecodingKey>,
    db: SqlitePool,
}

#[derive(Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    client_id: String,
    scope: String,
    exp: u64,
    iat: u64,
    jti: String,
}

fn env(name: &str) -> anyhow::Result<String> {
    std::env::var(name).with_context(|| format!("set {name}"))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn random_id() -> String {
    let mut bytes = [0u8; 32];
    // getrandom fails only without an OS random source; the benchmark would then stop anyway.
    let _ = getrandom::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unauthorized() -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client"}))).into_response()
}

/// Parses the form and checks the Basic credentials; returns the form's fields.
fn check(state: &Baseline, headers: &HeaderMap, body: &[u8]) -> Option<Vec<(String, String)>> {
    let fields: Vec<(String, String)> =
        form_urlencoded::parse(body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let basic = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = STANDARD.decode(basic).ok()?;
    let decoded = std::str::from_utf8(&decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    let ok = id.as_bytes().ct_eq(state.client_id.as_bytes()) & digest.ct_eq(&state.secret_digest);
    bool::from(ok).then_some(fields)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn token_response(access_token: String) -> Response {
    let body = json!({"access_token": access_token, "token_type": "Bearer", "expires_in": 300});
    ([(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

async fn sign(State(state): State<Arc<Baseline>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(fields) = check(&state, &headers, &body) else { return unauthorized() };
    let iat = now();
    let claims = Claims {
        iss: state.issuer.clone(),
        sub: state.client_id.clone(),
        aud: state.issuer.clone(),
        client_id: state.client_id.clone(),
        scope: field(&fields, "scope").unwrap_or("profile").to_owned(),
        exp: iat + 300,
        iat,
        jti: random_id(),
    };
    let mut jose = Header::new(Algorithm::ES256);
    jose.typ = Some("at+jwt".into());
    jose.kid = Some("baseline".into());
    match jsonwebtoken::encode(&jose, &claims, &state.signing) {
        Ok(token) => token_response(token),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn write(State(state): State<Arc<Baseline>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(fields) = check(&state, &headers, &body) else { return unauthorized() };
    let token = random_id();
    let digest = Sha256::digest(token.as_bytes()).to_vec();
    let iat = i64::try_from(now()).unwrap_or(0);
    let inserted = sqlx::query(
        "INSERT INTO tokens (hash, client_id, subject, scope, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(digest)
    .bind(&state.client_id)
    .bind(&state.client_id)
    .bind(field(&fields, "scope").unwrap_or("profile"))
    .bind(iat)
    .bind(iat + 300)
    .execute(&state.db)
    .await;
    match inserted {
        Ok(_) => token_response(token),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn read(State(state): State<Arc<Baseline>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let Some(fields) = check(&state, &headers, &body) else { return unauthorized() };
    let digest = Sha256::digest(field(&fields, "token").unwrap_or_default().as_bytes()).to_vec();
    let row: Result<Option<(String, String, i64)>, _> =
        sqlx::query_as("SELECT subject, scope, expires_at FROM tokens WHERE hash = ?")
            .bind(digest)
            .fetch_optional(&state.db)
            .await;
    match row {
        Ok(Some((sub, scope, exp))) => {
            Json(json!({"active": true, "sub": sub, "scope": scope, "exp": exp})).into_response()
        }
        Ok(None) => Json(json!({"active": false})).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn verify(State(state): State<Arc<Baseline>>, headers: HeaderMap) -> Response {
    let deny = || StatusCode::UNAUTHORIZED.into_response();
    let Some(token) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()?.strip_prefix("Bearer ")) else {
        return deny();
    };
    let Some(key) = jsonwebtoken::decode_header(token).ok().and_then(|h| state.verifying.get(&h.kid?)) else {
        return deny();
    };
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[&state.issuer]);
    validation.set_audience(&[&state.issuer]);
    match jsonwebtoken::decode::<Claims>(token, key, &validation) {
        Ok(data) => Json(json!({"sub": data.claims.sub, "scope": data.claims.scope})).into_response(),
        Err(_) => deny(),
    }
}

async fn resource(token: Bearer) -> Response {
    Json(json!({"sub": token.claims.sub, "scope": token.claims.scope})).into_response()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    let issuer = env("BASELINE_ISSUER")?;
    let pkcs8 = aws_lc_rs::signature::EcdsaKeyPair::generate_pkcs8(
        &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        &aws_lc_rs::rand::SystemRandom::new(),
    )
    .map_err(|e| anyhow::anyhow!("key generation: {e}"))?;
    let jwks: JwkSet = reqwest::get(format!("{issuer}/jwks.json")).await?.error_for_status()?.json().await?;
    let mut verifying = HashMap::new();
    for jwk in &jwks.keys {
        if let Some(kid) = &jwk.common.key_id {
            verifying.insert(kid.clone(), DecodingKey::from_jwk(jwk)?);
        }
    }
    let connect = SqliteConnectOptions::from_str(&format!("sqlite://{}", env("BASELINE_DB")?))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal);
    // No ping on every acquire (an embedded connection cannot go stale), as in Latchkey.
    let db = SqlitePoolOptions::new().test_before_acquire(false).max_connections(16).connect_with(connect).await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS tokens (hash BLOB PRIMARY KEY, client_id TEXT NOT NULL, subject TEXT NOT NULL, \
         scope TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL)",
    )
    .execute(&db)
    .await?;
    let state = Arc::new(Baseline {
        client_id: env("BASELINE_CLIENT_ID")?,
        secret_digest: Sha256::digest(env("BASELINE_CLIENT_SECRET")?.as_bytes()).into(),
        issuer: issuer.clone(),
        signing: EncodingKey::from_ec_der(pkcs8.as_ref()),
        verifying,
        db,
    });
    let resource_route = Router::new()
        .route("/resource", get(resource))
        .with_state(BearerAuth::new(BearerConfig::new(&issuer, &issuer)));
    let app = Router::new()
        .route("/sign", post(sign))
        .route("/write", post(write))
        .route("/read", post(read))
        .route("/verify", get(verify))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
        .merge(resource_route);
    let listener = tokio::net::TcpListener::bind(env("BASELINE_BIND")?).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
