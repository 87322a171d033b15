//! The demo resource server: two routes protected by `latchkey-resource`.

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use latchkey_resource::{Bearer, BearerAuth, BearerConfig, BearerError};
use serde_json::{Value, json};

/// `GET /api/profile`, scope `profile`.
async fn profile(token: Bearer) -> Result<Json<Value>, BearerError> {
    token.require_scope("profile")?;
    let c = &token.claims;
    Ok(Json(json!({
        "message": "Hello! This is your profile, served by the demo API after checking your access token.",
        "sub": c.sub,
        "client_id": c.client_id,
        "scope": c.scope,
        "token_expires_at": c.exp,
    })))
}

/// `GET /api/notes`, scope `notes:read`.
async fn notes(token: Bearer) -> Result<Json<Value>, BearerError> {
    token.require_scope("notes:read")?;
    Ok(Json(json!({
        "owner": token.claims.sub,
        "notes": [
            { "id": 1, "text": "The client never saw my password." },
            { "id": 2, "text": "Access tokens are short-lived; refresh tokens rotate." },
        ],
    })))
}

pub fn router(issuer: &str, audience: &str) -> Router {
    let mut config = BearerConfig::new(issuer, audience);
    config.realm = "demo-api".into();
    config.leeway = Duration::from_secs(0);
    Router::new()
        .route("/api/profile", get(profile))
        .route("/api/notes", get(notes))
        .with_state(BearerAuth::new(config))
}
