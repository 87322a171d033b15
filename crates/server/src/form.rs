//! Reading `application/x-www-form-urlencoded` bodies and queries with the rules of RFC
//! 6749 §3.1 (no repeated parameter) and bounded size.

use axum::body::Body;
use axum::http::{HeaderMap, header};
use latchkey_protocol::OAuthError;
use latchkey_protocol::form::Params;

/// Largest form body accepted.
pub const MAX_BODY: usize = 16 * 1024;

/// Reads a form body. §3.2: the token endpoint takes `application/x-www-form-urlencoded`.
pub async fn read_form(headers: &HeaderMap, body: Body) -> Result<Params, OAuthError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request("the body must be application/x-www-form-urlencoded"));
    }
    let bytes =
        axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| OAuthError::invalid_request("the body is too large"))?;
    Params::parse(&bytes)
}

/// Reads a request's query string.
pub fn read_query(query: Option<&str>) -> Result<Params, OAuthError> {
    let q = query.unwrap_or("");
    if q.len() > MAX_BODY {
        return Err(OAuthError::invalid_request("the query is too long"));
    }
    Params::parse(q.as_bytes())
}
