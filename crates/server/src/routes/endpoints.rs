//! `POST /revoke` (RFC 7009), `POST /introspect` (RFC 7662) and
//! `POST /device_authorization` (RFC 8628 §3.1): parse, authenticate, delegate.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::OAuthError;
use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::form::Params;

use crate::AppState;
use crate::error::ApiError;
use crate::form::read_form;

/// The form and the client credentials of a request to a client-authenticated endpoint.
pub async fn form_and_client(headers: &HeaderMap, body: Body) -> Result<(Params, ClientCredentials), ApiError> {
    let form = read_form(headers, body).await?;
    let authorization = match headers.get(header::AUTHORIZATION) {
        Some(v) => Some(v.to_str().map_err(|_| OAuthError::invalid_client("malformed Authorization header"))?),
        None => None,
    };
    let creds = ClientCredentials::from_request(authorization, &form)?;
    Ok((form, creds))
}

pub fn no_store(mut res: Response) -> Response {
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// RFC 7009 §2.1.
pub async fn revoke(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let (form, creds) = form_and_client(&headers, body).await?;
    let token = form.require("token")?;
    state.auth.revoke(&creds, token, form.get("token_type_hint")).await?;
    // §2.2: "The authorization server responds with HTTP status code 200 if the token has
    // been revoked successfully or if the client submitted an invalid token."
    Ok(no_store(axum::http::StatusCode::OK.into_response()))
}

/// RFC 7662 §2.1.
pub async fn introspect(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let (form, creds) = form_and_client(&headers, body).await?;
    let token = form.require("token")?;
    let answer = state.auth.introspect(&creds, token, form.get("token_type_hint")).await?;
    Ok(no_store(Json(answer).into_response()))
}

/// RFC 8628 §3.1.
pub async fn device_authorization(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (form, creds) = form_and_client(&headers, body).await?;
    let answer = state.auth.device_authorization(&creds, form.get("scope")).await?;
    Ok(no_store(Json(answer).into_response()))
}

/// These endpoints accept only POST (RFC 6749 §3.2: "The client MUST use the HTTP POST
/// method when making access token requests"; RFC 7009 §2.1, RFC 7662 §2.1, RFC 8628 §3.1).
pub async fn post_only() -> Response {
    let mut res = ApiError(OAuthError::invalid_request("this endpoint accepts only POST")).into_response();
    *res.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    res.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    res
}
