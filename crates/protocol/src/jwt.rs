//! JWT access tokens, RFC 9068.

use serde::{Deserialize, Serialize};

use crate::Scope;

/// RFC 9068 §2.1: the `typ` header of a JWT access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// RFC 9068 §2.2 claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    /// Issuer identifier of the authorization server.
    pub iss: String,
    /// The resource owner, or the client itself for `client_credentials` (§2.2).
    pub sub: String,
    /// The resource server(s) the token is meant for.
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-delimited granted scope (§2.2.3).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Unique identifier of this token.
    pub jti: String,
    /// Latchkey's grant identifier: the refresh-token family the token was issued from, so
    /// that revoking the family (RFC 7009 §2.1) revokes the token at introspection too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
}

impl AccessTokenClaims {
    /// The granted scope as a set. Invalid text (never issued by Latchkey) is the empty set.
    pub fn scope(&self) -> Scope {
        Scope::parse(&self.scope).unwrap_or_default()
    }
}
