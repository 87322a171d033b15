//! Failures of a use case.

use latchkey_protocol::OAuthError;
use latchkey_protocol::authorize::AuthorizeError;
use latchkey_store::StoreError;

/// Why a use case failed: a protocol error the client is told, the operator's mistake, or
/// something that should never happen (an outage, corrupt data).
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// An RFC error for the client (token endpoint style).
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    /// An authorization endpoint error: shown to the user or redirected to the client.
    #[error("{}", .0.error())]
    Authorize(AuthorizeError),
    /// Input the operator typed (CLI administration), with a message for the operator.
    /// No HTTP request leads here.
    #[error("{0}")]
    Admin(String),
    /// Stored data that does not read back (a row breaking a rule it was written under).
    /// Not the client's fault: answered as `server_error`, the cause only logged.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A condition that should never happen and is nobody's input (no free user code
    /// after several draws). Answered as `server_error`, the cause only logged.
    #[error("internal: {0}")]
    Internal(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Signing or key handling failed.
    #[error("signing: {0}")]
    Crypto(String),
}
