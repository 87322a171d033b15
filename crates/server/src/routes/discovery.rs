//! Authorization server metadata (RFC 8414) and the JWK Set (RFC 7517).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::client::GrantType;
use latchkey_protocol::metadata::AuthorizationServerMetadata;

use crate::AppState;
use crate::error::ApiError;

/// `GET /.well-known/oauth-authorization-server`.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let settings = state.auth.settings();
    let scopes = settings.scopes.iter().map(|s| s.name.clone()).collect();
    let grants = GrantType::ALL.iter().map(|g| g.as_str().to_owned()).collect();
    let registration = settings.registration != latchkey_flows::RegistrationPolicy::Off;
    let doc = AuthorizationServerMetadata::for_issuer(&settings.issuer, scopes, grants, registration);
    let mut res = Json(doc).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    res
}

/// `GET /jwks.json`: the public keys that verify access tokens. Cached for 5 minutes: a
/// new key is published longer than that before it signs (the key overlap).
pub async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let set = state.auth.keys().jwks(state.auth.now()).await?;
    let mut res = Json(set).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(res)
}
