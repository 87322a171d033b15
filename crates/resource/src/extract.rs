//! The axum extractor: RFC 6750 §2.1, the `Authorization: Bearer` header only.

use axum::extract::{FromRef, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use latchkey_protocol::jwt::AccessTokenClaims;

use crate::{BearerAuth, BearerError};

/// A request carrying a valid access token. Handlers receive its claims.
#[derive(Debug, Clone)]
pub struct Bearer {
    /// The validated claims.
    pub claims: AccessTokenClaims,
    realm: String,
}

impl Bearer {
    /// Fails with 403 `insufficient_scope` unless the token has `scope` (RFC 6750 §3.1).
    pub fn require_scope(&self, scope: &str) -> Result<(), BearerError> {
        if self.claims.scope().contains(scope) {
            Ok(())
        } else {
            Err(BearerError::insufficient_scope(&self.realm, scope))
        }
    }
}

/// §2.1: `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/'))
}

/// Reads the bearer token from the headers. `Ok(None)` when the request carries no
/// bearer credentials at all.
pub fn bearer_token<'a>(parts: &'a Parts, realm: &str) -> Result<Option<&'a str>, BearerError> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(BearerError::invalid_request(realm, "more than one Authorization header"));
    }
    let text = value.to_str().map_err(|_| BearerError::invalid_request(realm, "malformed Authorization header"))?;
    let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme is no bearer credential: a bare challenge.
        return Ok(None);
    }
    let token = rest.trim_start_matches(' ');
    if !is_b64token(token) {
        return Err(BearerError::invalid_request(realm, "malformed bearer token"));
    }
    Ok(Some(token))
}

impl<S> FromRequestParts<S> for Bearer
where
    BearerAuth: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = BearerError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = BearerAuth::from_ref(state);
        let realm = auth.realm().to_owned();
        // §2.3 (URI query parameter) is deliberately not supported: tokens in URLs leak.
        let Some(token) = bearer_token(parts, &realm)? else {
            return Err(BearerError::Missing { realm });
        };
        let claims = auth.validate(token).await?;
        Ok(Bearer { claims, realm })
    }
}
