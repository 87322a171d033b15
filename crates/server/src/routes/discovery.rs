//! Authorization server metadata (RFC 8414) and the JWK Set (RFC 7517).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::client::GrantType;
use latchkey_protocol::metadata::AuthorizationServerMetadata;

use crate::AppState;

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let settings = state.auth.settings();
    let scopes = settings.scopes.iter().map(|s| s.name.clone()).collect();
    let grants = GrantType::ALL
        .iter()
        .map(|g| g.as_str().to_owned())
        .collect();
    let doc = AuthorizationServerMetadata::for_issuer(&settings.issuer, scopes, grants);
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

/// `GET /jwks.json`: the public keys that verify access tokens.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let mut res = Json(state.auth.keys().jwks()).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}
