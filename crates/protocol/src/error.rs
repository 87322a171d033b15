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

    /// The code whose wire form is `text`, or `None` for any other code: an extension
    /// code (RFC 6749 §8.5) or a code of another RFC (RFC 6750 §3.1 `invalid_token`).
    pub fn parse(text: &str) -> Option<ErrorCode> {
        Some(match text {
            "invalid_request" => ErrorCode::InvalidRequest,
            "invalid_client" => ErrorCode::InvalidClient,
            "invalid_grant" => ErrorCode::InvalidGrant,
            "unauthorized_client" => ErrorCode::UnauthorizedClient,
            "unsupported_grant_type" => ErrorCode::UnsupportedGrantType,
            "invalid_scope" => ErrorCode::InvalidScope,
            "access_denied" => ErrorCode::AccessDenied,
            "unsupported_response_type" => ErrorCode::UnsupportedResponseType,
            "server_error" => ErrorCode::ServerError,
            "temporarily_unavailable" => ErrorCode::TemporarilyUnavailable,
            "authorization_pending" => ErrorCode::AuthorizationPending,
            "slow_down" => ErrorCode::SlowDown,
            "expired_token" => ErrorCode::ExpiredToken,
            "invalid_redirect_uri" => ErrorCode::InvalidRedirectUri,
            "invalid_client_metadata" => ErrorCode::InvalidClientMetadata,
            "invalid_software_statement" => ErrorCode::InvalidSoftwareStatement,
            "unsupported_token_type" => ErrorCode::UnsupportedTokenType,
            _ => return None,
        })
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
/// Never carries a secret or an internal cause. Made only by its constructors, which keep
/// the description inside the characters §5.2 allows ([`safe_description`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {description}", .code.as_str())]
#[non_exhaustive]
pub struct OAuthError {
    /// The RFC error code.
    pub code: ErrorCode,
    /// `error_description`: ASCII text for the developer (§5.2).
    pub description: Cow<'static, str>,
}

/// Longest `error_description`, in characters: a sentence, not a document.
pub const MAX_DESCRIPTION: usize = 200;

/// Whether `c` may appear in an `error_description`. RFC 6749 §5.2 (and §4.1.2.1, RFC 6750
/// §3): "Values for the "error_description" parameter MUST NOT include characters outside
/// the set %x20-21 / %x23-5B / %x5D-7E", that is printable ASCII but `"` and `\`.
pub fn allowed_in_description(c: char) -> bool {
    matches!(c, '\x20'..='\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

/// `text` as an `error_description` may carry it: `§` becomes `section `, `"` becomes `'`,
/// any other character outside the §5.2 set becomes `?`, and text past
/// [`MAX_DESCRIPTION`] characters is cut (ending in `...`). Text already inside the set is
/// returned as it is.
pub fn safe_description(text: Cow<'static, str>) -> Cow<'static, str> {
    match sanitized(&text) {
        Some(clean) => Cow::Owned(clean),
        None => text,
    }
}

/// The safe form of `text`, or `None` when `text` is safe already.
fn sanitized(text: &str) -> Option<String> {
    if text.len() <= MAX_DESCRIPTION && text.chars().all(allowed_in_description) {
        return None;
    }
    // Every character pushed is ASCII: the length in bytes is the length in characters.
    let mut clean = String::with_capacity(text.len().min(MAX_DESCRIPTION + 8));
    for c in text.chars() {
        match c {
            c if allowed_in_description(c) => clean.push(c),
            '§' => clean.push_str("section "),
            '"' => clean.push('\''),
            _ => clean.push('?'),
        }
        if clean.len() > MAX_DESCRIPTION {
            clean.truncate(MAX_DESCRIPTION - 3);
            clean.push_str("...");
            break;
        }
    }
    Some(clean)
}

macro_rules! constructors {
    ($($name:ident => $code:ident),* $(,)?) => {
        impl OAuthError {
            $(
                #[doc = concat!("An `", stringify!($name), "` error with this description (made safe: [`safe_description`]).")]
                pub fn $name(description: impl Into<Cow<'static, str>>) -> Self {
                    OAuthError { code: ErrorCode::$code, description: safe_description(description.into()) }
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
        let description = sanitized(&e.description).unwrap_or_else(|| e.description.to_string());
        ErrorBody { error: e.code.as_str().to_owned(), error_description: Some(description) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    type Constructor = fn(String) -> OAuthError;

    const CONSTRUCTORS: [Constructor; 17] = [
        OAuthError::invalid_request,
        OAuthError::invalid_client,
        OAuthError::invalid_grant,
        OAuthError::unauthorized_client,
        OAuthError::unsupported_grant_type,
        OAuthError::invalid_scope,
        OAuthError::access_denied,
        OAuthError::unsupported_response_type,
        OAuthError::server_error,
        OAuthError::temporarily_unavailable,
        OAuthError::authorization_pending,
        OAuthError::slow_down,
        OAuthError::expired_token,
        OAuthError::invalid_redirect_uri,
        OAuthError::invalid_client_metadata,
        OAuthError::invalid_software_statement,
        OAuthError::unsupported_token_type,
    ];

    fn inside_the_set(text: &str) -> bool {
        text.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    }

    proptest! {
        #[test]
        fn rfc6749_5_2_every_error_description_stays_inside_the_allowed_set(
            text in any::<String>(),
            ascii in "[\\x00-\\x7F]{0,300}",
        ) {
            for make in CONSTRUCTORS {
                for input in [&text, &ascii] {
                    let e = make(input.clone());
                    prop_assert!(inside_the_set(&e.description), "{:?}", e.description);
                    prop_assert!(e.description.chars().count() <= MAX_DESCRIPTION);
                    let body = ErrorBody::from(&e);
                    prop_assert!(inside_the_set(body.error_description.as_deref().unwrap_or("")));
                }
            }
        }
    }

    #[test]
    fn rfc6749_5_2_every_error_code_parses_back_from_its_wire_form() {
        let codes = CONSTRUCTORS.map(|make| make(String::new()).code);
        for (i, code) in codes.into_iter().enumerate() {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert!(codes[..i].iter().all(|other| other.as_str() != code.as_str()), "{} twice", code.as_str());
        }
        // RFC 6749 §8.5 extension codes, other RFCs' codes and near misses are not ours.
        for other in ["", "invalid_token", "insufficient_scope", "Invalid_Request", "invalid_request ", "x"] {
            assert_eq!(ErrorCode::parse(other), None, "{other:?}");
        }
    }

    proptest! {
        #[test]
        fn rfc6749_5_2_error_code_parser_never_panics_and_round_trips(text in "\\PC*") {
            if let Some(code) = ErrorCode::parse(&text) {
                prop_assert_eq!(code.as_str(), text.as_str());
            }
        }
    }

    #[test]
    fn rfc6749_5_2_safe_descriptions_are_kept_and_unsafe_characters_replaced() {
        let kept = OAuthError::invalid_request("missing parameter `code`");
        assert!(matches!(kept.description, Cow::Borrowed("missing parameter `code`")));
        let section = OAuthError::invalid_request("no fragment (RFC 6749 §3.1.2)");
        assert_eq!(section.description, "no fragment (RFC 6749 section 3.1.2)");
        let e = OAuthError::unsupported_grant_type("\"\u{e9}\r\n\\x");
        assert_eq!(e.description, "'????x");
        let long = OAuthError::invalid_request("a".repeat(1000));
        assert_eq!(long.description.len(), MAX_DESCRIPTION);
        assert!(long.description.ends_with("..."));
    }
}
