//! RFC 6750 §3 error responses.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use latchkey_protocol::error::{allowed_in_description, safe_description};

/// Why a request was refused (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BearerError {
    /// §3.1: "If the request lacks any authentication information ..., the resource server
    /// SHOULD NOT include an error code" — a bare challenge, 401.
    #[error("no access token")]
    Missing {
        /// The realm.
        realm: String,
    },
    /// §3.1 `invalid_request`, 400: malformed request.
    #[error("invalid_request: {description}")]
    InvalidRequest {
        /// The realm.
        realm: String,
        /// What is wrong.
        description: String,
    },
    /// §3.1 `invalid_token`, 401: expired, revoked, malformed or invalid.
    #[error("invalid_token: {description}")]
    InvalidToken {
        /// The realm.
        realm: String,
        /// What is wrong.
        description: String,
    },
    /// §3.1 `insufficient_scope`, 403, naming the scope needed.
    #[error("insufficient_scope: {scope}")]
    InsufficientScope {
        /// The realm.
        realm: String,
        /// The scope the request needs.
        scope: String,
    },
    /// The issuer's keys could not be fetched: 503, the client may retry.
    #[error("token validation temporarily unavailable")]
    Unavailable {
        /// The realm.
        realm: String,
    },
}

impl BearerError {
    /// An `invalid_token` error.
    pub fn invalid_token(realm: &str, description: &str) -> Self {
        BearerError::InvalidToken { realm: realm.into(), description: description.into() }
    }
    /// An `invalid_request` error.
    pub fn invalid_request(realm: &str, description: &str) -> Self {
        BearerError::InvalidRequest { realm: realm.into(), description: description.into() }
    }
    /// An `insufficient_scope` error.
    pub fn insufficient_scope(realm: &str, scope: &str) -> Self {
        BearerError::InsufficientScope { realm: realm.into(), scope: scope.into() }
    }
    /// An outage of the key source.
    pub fn unavailable(realm: &str) -> Self {
        BearerError::Unavailable { realm: realm.into() }
    }

    /// The `error` code, if the response carries one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            BearerError::Missing { .. } | BearerError::Unavailable { .. } => None,
            BearerError::InvalidRequest { .. } => Some("invalid_request"),
            BearerError::InvalidToken { .. } => Some("invalid_token"),
            BearerError::InsufficientScope { .. } => Some("insufficient_scope"),
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3).
    pub fn challenge(&self) -> String {
        // RFC 6750 §3: `error_description` and `scope` "MUST NOT include characters outside
        // the set %x20-21 / %x23-5B / %x5D-7E" (scope tokens without the space); the realm
        // is held to the same set, which keeps every value a valid quoted-string and header.
        let q = |s: &str| s.chars().map(|c| if allowed_in_description(c) { c } else { '?' }).collect::<String>();
        let token = |t: &str| t.chars().map(|c| if c != ' ' && allowed_in_description(c) { c } else { '?' }).collect();
        let scope_q = |s: &str| s.split(' ').map(token).collect::<Vec<String>>().join(" ");
        match self {
            BearerError::Missing { realm } | BearerError::Unavailable { realm } => {
                format!(r#"Bearer realm="{}""#, q(realm))
            }
            BearerError::InvalidRequest { realm, description } | BearerError::InvalidToken { realm, description } => {
                format!(
                    r#"Bearer realm="{}", error="{}", error_description="{}""#,
                    q(realm),
                    self.code().unwrap_or(""),
                    safe_description(description.clone().into())
                )
            }
            BearerError::InsufficientScope { realm, scope } => format!(
                r#"Bearer realm="{}", error="insufficient_scope", error_description="the request needs scope {}", scope="{}""#,
                q(realm),
                scope_q(scope),
                scope_q(scope)
            ),
        }
    }

    /// The HTTP status (§3.1).
    pub fn status(&self) -> StatusCode {
        match self {
            BearerError::Missing { .. } | BearerError::InvalidToken { .. } => StatusCode::UNAUTHORIZED,
            BearerError::InvalidRequest { .. } => StatusCode::BAD_REQUEST,
            BearerError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            BearerError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let body = match self.code() {
            Some(code) => {
                serde_json::json!({ "error": code, "error_description": safe_description(self.to_string().into()) })
            }
            None => serde_json::json!({ "error": "unauthorized" }),
        };
        let mut res = (self.status(), axum::Json(body)).into_response();
        if let Ok(v) = HeaderValue::from_str(&self.challenge()) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside_the_set(text: &str) -> bool {
        text.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
    }

    /// The value of `name="..."` in a challenge.
    fn param<'a>(challenge: &'a str, name: &str) -> &'a str {
        let start = challenge.find(&format!("{name}=\"")).map(|i| i + name.len() + 2).unwrap();
        let len = challenge[start..].find('"').unwrap();
        &challenge[start..start + len]
    }

    #[test]
    fn rfc6750_3_challenge_values_stay_inside_the_allowed_set() {
        let hostile = "a\"b\\c\r\nd\u{e9}\u{0}e";
        for e in [
            BearerError::invalid_token(hostile, hostile),
            BearerError::invalid_request(hostile, &hostile.repeat(100)),
            BearerError::insufficient_scope(hostile, &format!("{hostile} notes:read")),
        ] {
            let challenge = e.challenge();
            for name in ["realm", "error_description"] {
                assert!(inside_the_set(param(&challenge, name)), "{name} in {challenge:?}");
            }
            if matches!(e, BearerError::InsufficientScope { .. }) {
                assert!(param(&challenge, "scope").ends_with(" notes:read"), "{challenge:?}");
            }
            let res = e.into_response();
            let header = res.headers().get(header::WWW_AUTHENTICATE).expect("the challenge is sent");
            assert_eq!(header.to_str().unwrap(), challenge);
        }
    }
}
