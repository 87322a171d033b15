//! Authorization server metadata, RFC 8414 §2, and the issuer identifier it names.

use serde::{Deserialize, Serialize};

/// Why a URL cannot be an issuer identifier (RFC 8414 §2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    /// Not a URL at all.
    #[error("not a URL: {0}")]
    NotAUrl(url::ParseError),
    /// A query or fragment.
    #[error("an issuer has no query or fragment (RFC 8414 §2)")]
    QueryOrFragment,
    /// Plain http on a host other than the loopback.
    #[error("an issuer must use https (http only on localhost)")]
    PlainHttp,
    /// Another scheme.
    #[error("an issuer must be an https URL")]
    NotHttps,
}

/// Checks an issuer identifier. RFC 8414 §2: "a URL that uses the "https" scheme and has
/// no query or fragment components". Plain http is accepted for loopback hosts
/// (`localhost`, `127.0.0.1`, `[::1]`), for development.
pub fn validate_issuer(issuer: &str) -> Result<(), IssuerError> {
    let url = url::Url::parse(issuer).map_err(IssuerError::NotAUrl)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(IssuerError::QueryOrFragment);
    }
    match (url.scheme(), url.host_str()) {
        ("https", Some(_)) => Ok(()),
        ("http", Some("localhost" | "127.0.0.1" | "[::1]")) => Ok(()),
        ("http", _) => Err(IssuerError::PlainHttp),
        _ => Err(IssuerError::NotHttps),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_2_issuer_is_an_https_url() {
        assert_eq!(validate_issuer("https://auth.example"), Ok(()));
        assert_eq!(validate_issuer("https://auth.example/tenant/1"), Ok(()));
        assert_eq!(validate_issuer("https://auth.example:8443"), Ok(()));
        assert_eq!(validate_issuer("http://auth.example"), Err(IssuerError::PlainHttp));
        assert_eq!(validate_issuer("ftp://auth.example"), Err(IssuerError::NotHttps));
        assert_eq!(validate_issuer("urn:example:issuer"), Err(IssuerError::NotHttps));
        assert!(matches!(validate_issuer("auth.example"), Err(IssuerError::NotAUrl(_))));
        assert!(matches!(validate_issuer(""), Err(IssuerError::NotAUrl(_))));
    }

    #[test]
    fn rfc8414_2_issuer_has_no_query_or_fragment() {
        assert_eq!(validate_issuer("https://auth.example/?tenant=1"), Err(IssuerError::QueryOrFragment));
        assert_eq!(validate_issuer("https://auth.example/#top"), Err(IssuerError::QueryOrFragment));
        // An empty query or fragment is still one.
        assert_eq!(validate_issuer("https://auth.example/?"), Err(IssuerError::QueryOrFragment));
        assert_eq!(validate_issuer("https://auth.example/#"), Err(IssuerError::QueryOrFragment));
        // Checked before the scheme: the first thing wrong is what the operator is told.
        assert_eq!(validate_issuer("http://auth.example/?a"), Err(IssuerError::QueryOrFragment));
    }

    #[test]
    fn rfc8414_2_plain_http_only_on_loopback_for_development() {
        for ok in ["http://localhost:8080", "http://127.0.0.1:8080", "http://[::1]:8080", "http://localhost"] {
            assert_eq!(validate_issuer(ok), Ok(()), "{ok}");
        }
        for bad in ["http://localhost.example", "http://127.0.0.2", "http://10.0.0.1", "http://[::2]"] {
            assert_eq!(validate_issuer(bad), Err(IssuerError::PlainHttp), "{bad}");
        }
    }
}
