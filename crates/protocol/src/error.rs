//! The error codes of RFC 6749 §4.1.2.1 and §5.2 and the error value a client is told.

use std::borrow::Cow;

/// One variant per error code of RFC 6749 §4.1.2.1 (authorization endpoint) and §5.2
/// (token endpoint), RFC 8628 §3.5 (device grant), RFC 7591 §3.2.2 (registration) and
/// RFC 7009 §2.2.1 (revocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// §4.1.2.1, §5.2: missing, invalid, repeated or malformed parameter.
    InvalidRequest,
    /// §5.2: client authentication failed (HTTP 401).
    InvalidClient,
    /// §5.2: the grant (code, refresh token) is invalid, expired, revoked or mismatched.
    InvalidGrant,
    /// §4.1.2.1, §5.2: the client may not use this grant or response type.
    UnauthorizedClient,
    /// §5.2: the grant type is not supported.
    UnsupportedGrantType,
    /// §4.1.2.1, §5.2: the requested scope is invalid, unknown or exceeds what is allowed.
    InvalidScope,
    /// §4.1.2.1: the resource owner or the server denied the request.
    AccessDenied,
    /// §4.1.2.1: the response type is not supported.
    UnsupportedResponseType,
    /// §4.1.2.1: an unexpected condition (a storage outage).
    ServerError,
    /// §4.1.2.1: temporarily overloaded or under maintenance.
    TemporarilyUnavailable,
    /// RFC 8628 §3.5: the user has not yet completed the verification.
    AuthorizationPending,
    /// RFC 8628 §3.5: polling too fast; the interval grows by 5 seconds.
    SlowDown,
    /// RFC 8628 §3.5: the device code expired.
    ExpiredToken,
    /// RFC 7591 §3.2.2: a redirect URI is invalid.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: a metadata field is invalid or inconsistent.
    InvalidClientMetadata,
    /// RFC 7591 §3.2.2: the software statement is invalid.
    InvalidSoftwareStatement,
    /// RFC 7009 §2.2.1: the server cannot revoke this token type.
    UnsupportedTokenType,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::InvalidRedirectUri => "invalid_redirect_uri",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidSoftwareStatement => "invalid_software_statement",
            ErrorCode::UnsupportedTokenType => "unsupported_token_type",
        }
    }

    /// The HTTP status of this error at the token endpoint (RFC 6749 §5.2): 401 for a
    /// failed client authentication, 500/503 for outages, 400 for everything else.
    pub fn token_endpoint_status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TemporarilyUnavailable => 503,
            _ => 400,
        }
    }
}

/// What the client is told: an error code and a human-readable description.
/// Never carries a secret or an internal cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", .code.as_str())]
pub struct OAuthError {
    /// The RFC error code.
    pub code: ErrorCode,
    /// `error_description`: ASCII text for the developer (§5.2).
    pub description: Cow<'static, str>,
}

macro_rules! constructors {
    ($($name:ident => $code:ident),* $(,)?) => {
        impl OAuthError {
            $(
                #[doc = concat!("An `", stringify!($name), "` error with this description.")]
                pub fn $name(description: impl Into<Cow<'static, str>>) -> Self {
                    OAuthError { code: ErrorCode::$code, description: description.into() }
                }
            )*
        }
    };
}

constructors! {
    invalid_request => InvalidRequest,
    invalid_client => InvalidClient,
    invalid_grant => InvalidGrant,
    unauthorized_client => UnauthorizedClient,
    unsupported_grant_type => UnsupportedGrantType,
    invalid_scope => InvalidScope,
    access_denied => AccessDenied,
    unsupported_response_type => UnsupportedResponseType,
    server_error => ServerError,
    temporarily_unavailable => TemporarilyUnavailable,
    authorization_pending => AuthorizationPending,
    slow_down => SlowDown,
    expired_token => ExpiredToken,
    invalid_redirect_uri => InvalidRedirectUri,
    invalid_client_metadata => InvalidClientMetadata,
    invalid_software_statement => InvalidSoftwareStatement,
    unsupported_token_type => UnsupportedTokenType,
}

/// The JSON body of an error response (RFC 6749 §5.2).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// The error code.
    pub error: String,
    /// The description, if any.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_description: Option<String>,
}

impl From<&OAuthError> for ErrorBody {
    fn from(e: &OAuthError) -> Self {
        ErrorBody { error: e.code.as_str().to_owned(), error_description: Some(e.description.to_string()) }
    }
}
