//! Dynamic client registration: `POST /register` (RFC 7591 §3) and the client
//! configuration endpoint `/register/{client_id}` (RFC 7592 §2).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_flows::{RegisterError, Registered};
use latchkey_protocol::OAuthError;
use serde_json::Value;

use crate::AppState;
use crate::error::{ApiError, to_oauth};

const MAX_BODY: usize = 64 * 1024;

/// Maps a registration failure to its response: 400 with the RFC 7591 error, or 401 with
/// an RFC 6750 challenge for a bad access token.
fn failure(e: RegisterError) -> Response {
    match e {
        RegisterError::Invalid(e) => ApiError(e).into_response(),
        RegisterError::Unauthorized => {
            let body =
                serde_json::json!({"error": "invalid_token", "error_description": "missing or invalid access token"});
            let mut res = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
            res.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Bearer error="invalid_token""#));
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        RegisterError::Flow(e) => ApiError(to_oauth(e)).into_response(),
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, Response> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("application/json") {
        return Err(ApiError(OAuthError::invalid_client_metadata("the body must be application/json")).into_response());
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError(OAuthError::invalid_client_metadata("the body is too large")).into_response())?;
    serde_json::from_slice(&bytes)
        .map_err(|_| ApiError(OAuthError::invalid_client_metadata("the body is not valid JSON")).into_response())
}

fn respond(state: &AppState, status: StatusCode, r: &Registered) -> Response {
    let uri = format!("{}/register/{}", state.auth.settings().issuer, r.client.id);
    let mut res = (status, Json(state.auth.registration_json(r, &uri))).into_response();
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// `POST /register`.
pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let json = match json_body(&headers, body).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    match state.auth.register(bearer(&headers), &json).await {
        Ok(r) => respond(&state, StatusCode::CREATED, &r),
        Err(e) => failure(e),
    }
}

/// `GET /register/{client_id}`.
pub async fn read(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match state.auth.registration(&id, bearer(&headers)).await {
        Ok(client) => respond(&state, StatusCode::OK, &Registered { client, secret: None, registration_token: None }),
        Err(e) => failure(e),
    }
}

/// `PUT /register/{client_id}`.
pub async fn update(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>, body: Body) -> Response {
    let json = match json_body(&headers, body).await {
        Ok(v) => v,
        Err(res) => return res,
    };
    match state.auth.update_registration(&id, bearer(&headers), &json).await {
        Ok(client) => respond(&state, StatusCode::OK, &Registered { client, secret: None, registration_token: None }),
        Err(e) => failure(e),
    }
}

/// `DELETE /register/{client_id}`: 204 (RFC 7592 §2.3).
pub async fn delete(State(state): State<AppState>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    match state.auth.delete_registration(&id, bearer(&headers)).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => failure(e),
    }
}
