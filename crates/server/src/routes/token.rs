//! `POST /token` (RFC 6749 §3.2): parse, delegate, map. No protocol rules here.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::OAuthError;
use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::token::TokenRequest;

use crate::AppState;
use crate::error::ApiError;
use crate::form::read_form;

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let form = read_form(&headers, body).await?;
    let authorization = match headers.get(header::AUTHORIZATION) {
        Some(v) => Some(v.to_str().map_err(|_| OAuthError::invalid_client("malformed Authorization header"))?),
        None => None,
    };
    let creds = ClientCredentials::from_request(authorization, &form)?;
    let request = TokenRequest::parse(&form)?;
    let response = state.auth.exchange(&creds, request).await?;
    let mut res = Json(response).into_response();
    // §5.1: "Cache-Control" "no-store" and "Pragma" "no-cache".
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

/// §3.2: "The client MUST use the HTTP POST method when making access token requests."
pub async fn wrong_method() -> Response {
    let mut res = ApiError(OAuthError::invalid_request("the token endpoint accepts only POST")).into_response();
    *res.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}
