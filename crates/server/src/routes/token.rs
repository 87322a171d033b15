//! `POST /token` (RFC 6749 §3.2): parse, delegate, map. No protocol rules here.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use latchkey_protocol::token::TokenRequest;

use super::endpoints::{form_and_client, no_store};
use crate::AppState;
use crate::error::ApiError;

pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let (form, creds) = form_and_client(&headers, body).await?;
    let request = TokenRequest::parse(&form)?;
    let response = state.auth.exchange(&creds, request).await?;
    // §5.1: "Cache-Control" "no-store" and "Pragma" "no-cache".
    Ok(no_store(Json(response).into_response()))
}
