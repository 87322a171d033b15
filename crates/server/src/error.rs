//! Error responses of the JSON endpoints (RFC 6749 §5.2).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_flows::FlowError;
use latchkey_protocol::authorize::AuthorizeError;
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

/// What a use-case failure means to whoever made the request. Decided once, here, for the
/// JSON endpoints ([`to_oauth`]) and the browser pages (`routes::browser::PageError`).
#[derive(Clone)]
pub enum Failure {
    /// An RFC error the client (or the user, on a page) is told.
    Told(OAuthError),
    /// §4.1.2.1: an authorization error for the client's redirection endpoint, with `state`.
    Redirect {
        /// The validated redirection endpoint.
        redirect_uri: String,
        /// The client's `state`, returned exactly.
        state: Option<String>,
        /// The error.
        error: OAuthError,
    },
    /// The database is unreachable: `temporarily_unavailable` (503). Logged, not described.
    Unavailable,
    /// Anything else that should never happen (a store error, corrupt data, a signing
    /// failure): `server_error` (500). Logged with its cause, not described.
    Internal,
}

/// Sorts a use-case failure into what the client is told and what only the log is told,
/// counting store failures.
pub fn classify(e: FlowError) -> Failure {
    match e {
        FlowError::OAuth(e) | FlowError::Authorize(AuthorizeError::Show(e)) => Failure::Told(e),
        FlowError::Authorize(AuthorizeError::Redirect { redirect_uri, state, error }) => {
            Failure::Redirect { redirect_uri, state, error }
        }
        FlowError::Store(StoreError::Unavailable(cause)) => {
            crate::metrics::store_error("unavailable");
            tracing::error!(%cause, "database unavailable");
            Failure::Unavailable
        }
        // The operator's input comes from the command line; one reaching a request is a bug.
        other @ (FlowError::Admin(_)
        | FlowError::Corrupt(_)
        | FlowError::Internal(_)
        | FlowError::Store(_)
        | FlowError::Crypto(_)) => {
            if matches!(other, FlowError::Store(_)) {
                crate::metrics::store_error("other");
            }
            tracing::error!(error = %other, "internal error");
            Failure::Internal
        }
    }
}

/// Maps a use-case failure to what a JSON endpoint answers (RFC 6749 §5.2).
pub fn to_oauth(e: FlowError) -> OAuthError {
    match classify(e) {
        Failure::Told(e) | Failure::Redirect { error: e, .. } => e,
        Failure::Unavailable => OAuthError::temporarily_unavailable("the database is unavailable; retry later"),
        Failure::Internal => OAuthError::server_error("internal error"),
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
