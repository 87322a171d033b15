//! Authorization server metadata, RFC 8414 §2.

use serde::{Deserialize, Serialize};

/// The document served at `/.well-known/oauth-authorization-server`. It lists every
/// endpoint and capability that is switched on, and nothing that is off.
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
    /// RFC 7009 revocation endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation_endpoint: Option<String>,
    /// RFC 7662 introspection endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introspection_endpoint: Option<String>,
    /// RFC 8628 device authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_authorization_endpoint: Option<String>,
    /// RFC 7591 registration endpoint, when registration is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_endpoint: Option<String>,
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
    /// Client authentication methods at the revocation endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// Client authentication methods at the introspection endpoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// RFC 7636: `["S256"]`.
    pub code_challenge_methods_supported: Vec<String>,
    /// RFC 9207 §3: authorization responses carry `iss`.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}

impl AuthorizationServerMetadata {
    /// The metadata of an issuer with these scopes and grant types; `registration` says
    /// whether dynamic client registration is on.
    pub fn for_issuer(issuer: &str, scopes: Vec<String>, grant_types: Vec<String>, registration: bool) -> Self {
        let base = issuer.trim_end_matches('/');
        let methods = || vec!["client_secret_basic".to_owned(), "client_secret_post".to_owned()];
        let mut token_methods = methods();
        token_methods.push("none".into());
        AuthorizationServerMetadata {
            issuer: issuer.to_owned(),
            authorization_endpoint: format!("{base}/authorize"),
            token_endpoint: format!("{base}/token"),
            jwks_uri: format!("{base}/jwks.json"),
            revocation_endpoint: Some(format!("{base}/revoke")),
            introspection_endpoint: Some(format!("{base}/introspect")),
            device_authorization_endpoint: Some(format!("{base}/device_authorization")),
            registration_endpoint: registration.then(|| format!("{base}/register")),
            scopes_supported: scopes,
            response_types_supported: vec!["code".into()],
            response_modes_supported: vec!["query".into()],
            grant_types_supported: grant_types,
            revocation_endpoint_auth_methods_supported: token_methods.clone(),
            token_endpoint_auth_methods_supported: token_methods,
            introspection_endpoint_auth_methods_supported: methods(),
            code_challenge_methods_supported: vec!["S256".into()],
            authorization_response_iss_parameter_supported: true,
        }
    }
}
