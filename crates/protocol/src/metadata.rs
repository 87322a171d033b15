//! Authorization server metadata, RFC 8414 §2.

use serde::{Deserialize, Serialize};

/// The document served at `/.well-known/oauth-authorization-server`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationServerMetadata {
    /// REQUIRED: the issuer identifier (§2), equal to the URL the document was fetched from
    /// minus the well-known suffix (§3.3).
    pub issuer: String,
    /// The authorization endpoint.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The JWK Set document.
    pub jwks_uri: String,
    /// Scopes the server supports.
    pub scopes_supported: Vec<String>,
    /// REQUIRED: `["code"]`.
    pub response_types_supported: Vec<String>,
    /// `["query"]`.
    #[serde(default)]
    pub response_modes_supported: Vec<String>,
    /// Grants supported.
    pub grant_types_supported: Vec<String>,
    /// Client authentication methods at the token endpoint.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7636: `["S256"]`.
    pub code_challenge_methods_supported: Vec<String>,
}

impl AuthorizationServerMetadata {
    /// The metadata of an issuer at `issuer` with these scopes and grant types.
    pub fn for_issuer(issuer: &str, scopes: Vec<String>, grant_types: Vec<String>) -> Self {
        let base = issuer.trim_end_matches('/');
        AuthorizationServerMetadata {
            issuer: issuer.to_owned(),
            authorization_endpoint: format!("{base}/authorize"),
            token_endpoint: format!("{base}/token"),
            jwks_uri: format!("{base}/jwks.json"),
            scopes_supported: scopes,
            response_types_supported: vec!["code".into()],
            response_modes_supported: vec!["query".into()],
            grant_types_supported: grant_types,
            token_endpoint_auth_methods_supported: vec![
                "client_secret_basic".into(),
                "client_secret_post".into(),
                "none".into(),
            ],
            code_challenge_methods_supported: vec!["S256".into()],
        }
    }
}
