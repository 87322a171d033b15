//! Token introspection responses, RFC 7662 §2.2.

use serde::{Deserialize, Serialize};

/// §2.2: "active" is REQUIRED; everything else only for an active token.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct IntrospectionResponse {
    /// Whether the token is currently active.
    pub active: bool,
    /// Granted scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// The client the token was issued to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The resource owner's username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `access_token` or `refresh_token` (RFC 7009 type hints).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    /// Expiry, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    /// Issued at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    /// Not before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// Audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// Token identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl IntrospectionResponse {
    /// §2.2: an inactive token says nothing else.
    pub fn inactive() -> Self {
        IntrospectionResponse::default()
    }
}

/// RFC 7009 §2.1 / RFC 7662 §2.1 `token_type_hint` values Latchkey knows. Unknown hints
/// are ignored ("An invalid token type hint value is ignored").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenTypeHint {
    /// `access_token`.
    AccessToken,
    /// `refresh_token`.
    RefreshToken,
}

impl TokenTypeHint {
    /// Reads the hint; `None` for absent or unknown values.
    pub fn parse(hint: Option<&str>) -> Option<TokenTypeHint> {
        match hint {
            Some("access_token") => Some(TokenTypeHint::AccessToken),
            Some("refresh_token") => Some(TokenTypeHint::RefreshToken),
            _ => None,
        }
    }
}
