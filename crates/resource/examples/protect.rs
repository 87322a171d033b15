//! Protects an axum route with `latchkey-resource`.
//!
//! Run `latchkey serve`, then `cargo run -p latchkey-resource --example protect`, get a
//! token with `latchkey token … --scope profile` and call
//! `curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/api/profile`.

use axum::routing::get;
use axum::{Json, Router};
use latchkey_resource::{Bearer, BearerAuth, BearerConfig, BearerError};
use serde_json::{Value, json};

/// Needs a valid access token with scope `profile`.
async fn profile(token: Bearer) -> Result<Json<Value>, BearerError> {
    token.require_scope("profile")?;
    Ok(Json(json!({ "sub": token.claims.sub, "scope": token.claims.scope })))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    // Tokens from this issuer, meant for this audience (by default Latchkey's `aud` is its issuer).
    let auth = BearerAuth::new(BearerConfig::new("http://localhost:8080", "http://localhost:8080"));
    let app = Router::new().route("/api/profile", get(profile)).with_state(auth);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await
}
