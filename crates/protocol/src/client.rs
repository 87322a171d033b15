//! Registered clients, RFC 6749 §2, and the rules that depend only on their registration.

use std::fmt;
use std::str::FromStr;

use crate::client_auth::ClientCredentials;
use crate::secret::SecretHash;
use crate::{ClientId, OAuthError, Scope};

/// RFC 6749 §2.1 client types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// Can keep a secret: authenticates with `client_secret_basic` or `client_secret_post`.
    Confidential,
    /// Cannot keep a secret (native and browser apps): authenticates with `none`, needs PKCE.
    Public,
}

/// The access token format a client receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenFormat {
    /// RFC 9068 JWT, verifiable by resource servers on their own.
    #[default]
    Jwt,
    /// A random reference, stored as a hash, checked by introspection (RFC 7662).
    Opaque,
}

impl TokenFormat {
    /// `jwt` or `opaque`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFormat::Jwt => "jwt",
            TokenFormat::Opaque => "opaque",
        }
    }
}

impl FromStr for TokenFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "jwt" => Ok(TokenFormat::Jwt),
            "opaque" => Ok(TokenFormat::Opaque),
            other => Err(format!("token format `{other}` is not jwt or opaque")),
        }
    }
}

/// The grant types Latchkey implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantType {
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 8628 §3.4.
    DeviceCode,
}

impl GrantType {
    /// Every grant type, in the order metadata lists them.
    pub const ALL: [GrantType; 4] =
        [GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials, GrantType::DeviceCode];

    /// The `grant_type` parameter value.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GrantType {
    type Err = OAuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GrantType::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| OAuthError::unsupported_grant_type("this grant_type is not supported"))
    }
}

/// A client as registered.
#[derive(Debug, Clone)]
pub struct Client {
    /// §2.2 client identifier.
    pub id: ClientId,
    /// Shown to users on the consent page.
    pub name: String,
    /// SHA-256 of the secret; `None` for public clients.
    pub secret_hash: Option<SecretHash>,
    /// §3.1.2.2 registered redirection endpoints, compared exactly.
    pub redirect_uris: Vec<String>,
    /// The grants this client may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes the client may request; `None` means every scope the server knows.
    pub scopes: Option<Scope>,
    /// Whether PKCE is required (always for public clients).
    pub require_pkce: bool,
    /// Unix time of registration.
    pub created_at: i64,
    /// The access token format it receives.
    pub token_format: TokenFormat,
    /// Other RFC 7591 metadata it registered (`client_uri`, `contacts`, …), as a JSON object.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
    /// Registered through RFC 7591 (by anyone, when registration is open) rather than by
    /// the operator: such a client's redirect URIs are not vouched for (RFC 9700 §4.11.2).
    pub registered_dynamically: bool,
    /// The operator made it a resource server: it may introspect tokens issued to other
    /// clients (RFC 7662 §4). Never set by dynamic registration.
    pub may_introspect: bool,
}

impl Client {
    /// §2.1: a client with a secret is confidential.
    pub fn client_type(&self) -> ClientType {
        if self.secret_hash.is_some() { ClientType::Confidential } else { ClientType::Public }
    }

    /// Whether the client may use a grant (§4.1.2.1, §5.2 `unauthorized_client`).
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// PKCE is mandatory for public clients whatever the setting (RFC 9700 §2.1.1).
    pub fn pkce_required(&self) -> bool {
        self.require_pkce || self.client_type() == ClientType::Public
    }

    /// The scope the client may be granted: its own list, within what the server offers.
    pub fn allowed_scope(&self, server_scopes: &Scope) -> Scope {
        match &self.scopes {
            Some(s) => s.intersection(server_scopes),
            None => server_scopes.clone(),
        }
    }

    /// §3.3: resolves the requested scope. Absent → the client's default (its allowed
    /// scope); any token outside what the client may have → `invalid_scope`. The result is
    /// never empty: §3.3 defines `scope = scope-token *( SP scope-token )`, at least one
    /// token, and an empty grant would be one the resource owner was never asked about
    /// (§10.2), so an empty request or an empty default is `invalid_scope` too.
    pub fn resolve_scope(&self, requested: Option<&str>, server_scopes: &Scope) -> Result<Scope, OAuthError> {
        let allowed = self.allowed_scope(server_scopes);
        let scope = match requested {
            None => allowed,
            Some(text) => {
                let scope = Scope::parse(text)?;
                if !scope.is_subset(&allowed) {
                    return Err(OAuthError::invalid_scope("a requested scope is not allowed for this client"));
                }
                scope
            }
        };
        if scope.is_empty() {
            return Err(OAuthError::invalid_scope("at least one scope is required (RFC 6749 §3.3)"));
        }
        Ok(scope)
    }

    /// Authenticates the client against the credentials presented (§2.3, §3.2.1).
    /// Any mismatch is the same `invalid_client`, so the answer does not tell which part
    /// was wrong.
    pub fn authenticate(&self, creds: &ClientCredentials) -> Result<(), OAuthError> {
        let fail = || OAuthError::invalid_client("client authentication failed");
        match (&self.secret_hash, creds.secret()) {
            (Some(stored), Some(given)) => {
                if stored.ct_eq(&given.hash()) {
                    Ok(())
                } else {
                    Err(fail())
                }
            }
            (None, None) => Ok(()),
            // A confidential client that sends no secret, or a public client that sends one.
            _ => Err(fail()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ClientSecret;

    fn client(secret: Option<&str>) -> Client {
        Client {
            id: "c1".into(),
            name: "App".into(),
            secret_hash: secret.map(SecretHash::of),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: Some(Scope::from_tokens(["a", "b"])),
            require_pkce: false,
            created_at: 0,
            token_format: TokenFormat::Jwt,
            metadata: None,
            registered_dynamically: false,
            may_introspect: false,
        }
    }

    #[test]
    fn rfc6749_3_3_an_empty_scope_is_invalid_scope_never_the_empty_grant() {
        let all = Scope::from_tokens(["a", "b", "c"]);
        let c = client(Some("s"));
        for asked in ["", " ", "   "] {
            assert_eq!(
                c.resolve_scope(Some(asked), &all).unwrap_err().code,
                crate::ErrorCode::InvalidScope,
                "{asked:?}"
            );
        }
        let mut none_allowed = client(Some("s"));
        none_allowed.scopes = Some(Scope::default());
        assert_eq!(none_allowed.resolve_scope(None, &all).unwrap_err().code, crate::ErrorCode::InvalidScope);
        // A client's own list counts only within what the server offers now.
        let mut gone = client(Some("s"));
        gone.scopes = Some(Scope::from_tokens(["retired"]));
        assert_eq!(gone.resolve_scope(None, &all).unwrap_err().code, crate::ErrorCode::InvalidScope);
    }

    #[test]
    fn rfc6749_3_3_default_scope_when_absent_and_invalid_scope_when_wider() {
        let c = client(Some("s"));
        let all = Scope::from_tokens(["a", "b", "c"]);
        assert_eq!(c.resolve_scope(None, &all).unwrap().to_string(), "a b");
        assert_eq!(c.resolve_scope(Some("a"), &all).unwrap().to_string(), "a");
        assert_eq!(c.resolve_scope(Some("a c"), &all).unwrap_err().code, crate::ErrorCode::InvalidScope);
    }

    #[test]
    fn rfc6749_2_3_1_secret_checked_and_public_clients_send_none() {
        let c = client(Some("right"));
        let ok = ClientCredentials::Post { client_id: "c1".into(), secret: ClientSecret::new("right") };
        let bad = ClientCredentials::Post { client_id: "c1".into(), secret: ClientSecret::new("wrong") };
        let none = ClientCredentials::None { client_id: "c1".into() };
        assert!(c.authenticate(&ok).is_ok());
        assert!(c.authenticate(&bad).is_err());
        assert!(c.authenticate(&none).is_err());
        let public = client(None);
        assert!(public.authenticate(&none).is_ok());
        assert!(public.authenticate(&ok).is_err());
        assert!(public.pkce_required());
    }
}
