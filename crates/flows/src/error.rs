//! Failures of a use case.

use latchkey_protocol::OAuthError;
use latchkey_protocol::authorize::AuthorizeError;
use latchkey_store::StoreError;

/// Why a use case failed: a protocol error the client is told, or an outage.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// An RFC error for the client (token endpoint style).
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// An authorization endpoint error: shown to the user or redirected to the client.
    #[error("{}", .0.error())]
    Authorize(AuthorizeError),
    /// Invalid administrative input (CLI), with a message for the operator.
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing or key handling failed.
    #[error("signing: {0}")]
    Crypto(String),
}
