//! Error responses of the JSON endpoints (RFC 6749 §5.2).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_flows::FlowError;
use latchkey_protocol::error::ErrorBody;
use latchkey_protocol::{ErrorCode, OAuthError};
use latchkey_store::StoreError;

/// An error from a JSON endpoint.
pub struct ApiError(pub OAuthError);

impl From<OAuthError> for ApiError {
    fn from(e: OAuthError) -> Self {
        ApiError(e)
    }
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        ApiError(to_oauth(e))
    }
}

/// Maps a use-case failure to what the client is told; outages are logged, not described.
pub fn to_oauth(e: FlowError) -> OAuthError {
    match e {
        FlowError::OAuth(e) => e,
        FlowError::Authorize(a) => a.error().clone(),
        FlowError::Invalid(msg) => OAuthError::invalid_request(msg),
        FlowError::Store(StoreError::Unavailable(cause)) => {
            crate::metrics::store_error("unavailable");
            tracing::error!(%cause, "database unavailable");
            OAuthError::temporarily_unavailable("the database is unavailable; retry later")
        }
        other => {
            if matches!(other, FlowError::Store(_)) {
                crate::metrics::store_error("other");
            }
            tracing::error!(error = %other, "internal error");
            OAuthError::server_error("internal error")
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.token_endpoint_status()).unwrap_or(StatusCode::BAD_REQUEST);
        let mut res = (status, Json(ErrorBody::from(&self.0))).into_response();
        let h = res.headers_mut();
        // §5.1/§5.2: no caching of token responses, errors included.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if self.0.code == ErrorCode::InvalidClient {
            // §5.2: a 401 "MUST include the WWW-Authenticate response header field".
            h.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(r#"Basic realm="latchkey", charset="UTF-8""#));
        }
        res
    }
}
