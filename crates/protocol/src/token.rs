//! The token endpoint's requests and responses, RFC 6749 §4.1.3, §4.4.2, §5.1 and §6, and
//! the rules for redeeming a code and refreshing.

use serde::{Deserialize, Serialize};

use crate::client::GrantType;
use crate::form::Params;
use crate::pkce::{self, CodeChallenge};
use crate::secret::{AuthorizationCode, RefreshToken};
use crate::{ClientId, OAuthError, Scope, UnixTime, UserId};

/// One variant per grant (§4.1.3, §6, §4.4.2), parsed once at the edge.
#[derive(Debug)]
pub enum TokenRequest {
    /// §4.1.3.
    AuthorizationCode {
        /// The code.
        code: AuthorizationCode,
        /// Must repeat the authorization request's `redirect_uri` when that had one.
        redirect_uri: Option<String>,
        /// RFC 7636 §4.5.
        code_verifier: Option<String>,
    },
    /// §6.
    RefreshToken {
        /// The refresh token.
        refresh_token: RefreshToken,
        /// An optional narrower scope.
        scope: Option<String>,
    },
    /// §4.4.2.
    ClientCredentials {
        /// The requested scope.
        scope: Option<String>,
    },
    /// RFC 8628 §3.4.
    DeviceCode {
        /// The device code from the device authorization response.
        device_code: crate::secret::DeviceCode,
    },
}

impl TokenRequest {
    /// Parses the form body of a token request.
    pub fn parse(params: &Params) -> Result<TokenRequest, OAuthError> {
        let grant: GrantType = params.require("grant_type")?.parse()?;
        Ok(match grant {
            GrantType::AuthorizationCode => TokenRequest::AuthorizationCode {
                code: AuthorizationCode::new(params.require("code")?),
                redirect_uri: params.get("redirect_uri").map(str::to_owned),
                code_verifier: params.get("code_verifier").map(str::to_owned),
            },
            GrantType::RefreshToken => TokenRequest::RefreshToken {
                refresh_token: RefreshToken::new(params.require("refresh_token")?),
                scope: params.get("scope").map(str::to_owned),
            },
            GrantType::ClientCredentials => {
                TokenRequest::ClientCredentials { scope: params.get("scope").map(str::to_owned) }
            }
            GrantType::DeviceCode => {
                TokenRequest::DeviceCode { device_code: crate::secret::DeviceCode::new(params.require("device_code")?) }
            }
        })
    }

    /// The grant this request uses.
    pub fn grant_type(&self) -> GrantType {
        match self {
            TokenRequest::AuthorizationCode { .. } => GrantType::AuthorizationCode,
            TokenRequest::RefreshToken { .. } => GrantType::RefreshToken,
            TokenRequest::ClientCredentials { .. } => GrantType::ClientCredentials,
            TokenRequest::DeviceCode { .. } => GrantType::DeviceCode,
        }
    }
}

/// §5.1 successful response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer` (RFC 6750).
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: i64,
    /// A refresh token, when the grant gives one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refresh_token: Option<String>,
    /// The granted scope (§5.1: REQUIRED if different from the request; always sent here).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub scope: Option<String>,
}

impl TokenResponse {
    /// A §5.1 response with a bearer token (RFC 6750): `token_type` `Bearer`, the granted
    /// `scope` always sent, and the refresh token when the grant gives one.
    pub fn bearer(
        access_token: String,
        expires_in: i64,
        scope: &Scope,
        refresh_token: Option<&RefreshToken>,
    ) -> TokenResponse {
        TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: refresh_token.map(|t| t.expose().to_owned()),
            scope: Some(scope.to_string()),
        }
    }
}

/// What an authorization code is bound to (§4.1.2, §10.5, RFC 7636 §4.4).
#[derive(Debug, Clone)]
pub struct CodeGrant {
    /// The client the code was issued to.
    pub client_id: ClientId,
    /// The resource owner who approved.
    pub user_id: UserId,
    /// The redirection endpoint used.
    pub redirect_uri: String,
    /// Whether the authorization request named it explicitly.
    pub redirect_uri_given: bool,
    /// The scope approved.
    pub scope: Scope,
    /// The PKCE challenge, if one was sent.
    pub code_challenge: Option<CodeChallenge>,
    /// When the code stops being valid.
    pub expires_at: UnixTime,
}

/// §4.1.3: decides whether `client_id` may redeem a code bound to `grant`.
pub fn redeem_code(
    grant: &CodeGrant,
    client_id: &ClientId,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: UnixTime,
) -> Result<(), OAuthError> {
    // "ensure that the authorization code was issued to the authenticated confidential
    // client, or if the client is public, ensure that the code was issued to client_id"
    if &grant.client_id != client_id {
        return Err(OAuthError::invalid_grant("the code was issued to another client"));
    }
    // §4.3.1 "verify that the authorization code is valid": not expired (§4.1.2: short-lived).
    if now >= grant.expires_at {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    // "ensure that the redirect_uri parameter is present if the redirect_uri parameter was
    // included in the initial authorization request ..., and if included ensure that their
    // values are identical."
    match (grant.redirect_uri_given, redirect_uri) {
        (true, None) => {
            return Err(OAuthError::invalid_grant("redirect_uri is required: the authorization request had one"));
        }
        (_, Some(given)) if given != grant.redirect_uri => {
            return Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"));
        }
        _ => {}
    }
    pkce::verify(grant.code_challenge.as_ref(), code_verifier)
}

/// What a refresh token is bound to (§6).
#[derive(Debug, Clone)]
pub struct RefreshGrant {
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The resource owner.
    pub user_id: UserId,
    /// The scope of the original grant.
    pub scope: Scope,
    /// When it stops being valid.
    pub expires_at: UnixTime,
}

/// §6: checks a refresh request and returns the scope of the new access token. "The
/// requested scope MUST NOT include any scope not originally granted by the resource
/// owner, and if omitted is treated as equal to the scope originally granted".
pub fn refresh(
    grant: &RefreshGrant,
    client_id: &ClientId,
    requested_scope: Option<&str>,
    now: UnixTime,
) -> Result<Scope, OAuthError> {
    // "validate the refresh token ... bound to the client" (§6, §10.4).
    if &grant.client_id != client_id {
        return Err(OAuthError::invalid_grant("the refresh token was issued to another client"));
    }
    if now >= grant.expires_at {
        return Err(OAuthError::invalid_grant("the refresh token has expired"));
    }
    let Some(text) = requested_scope else {
        return Ok(grant.scope.clone());
    };
    let scope = Scope::parse(text)?;
    if !scope.is_subset(&grant.scope) {
        return Err(OAuthError::invalid_scope("a refresh may narrow the scope, never widen it"));
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn rfc6749_5_1_bearer_response_names_type_scope_and_refresh_token() {
        let scope = Scope::from_tokens(["profile", "notes:read"]);
        let plain = serde_json::to_value(TokenResponse::bearer("at".into(), 300, &scope, None)).unwrap();
        assert_eq!(
            plain,
            serde_json::json!({"access_token": "at", "token_type": "Bearer", "expires_in": 300, "scope": "notes:read profile"})
        );
        let refresh = RefreshToken::new("lkr_x".to_owned());
        let with = TokenResponse::bearer("at".into(), 300, &scope, Some(&refresh));
        assert_eq!(with.refresh_token.as_deref(), Some("lkr_x"));
        assert_eq!(with.token_type, "Bearer", "RFC 6750 §4");
    }

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "c1".into(),
            user_id: "u1".into(),
            redirect_uri: "https://app.example/cb".into(),
            redirect_uri_given: true,
            scope: Scope::from_tokens(["a"]),
            code_challenge: Some(CodeChallenge::s256(VERIFIER)),
            expires_at: 100,
        }
    }

    #[test]
    fn rfc6749_4_1_3_code_bound_to_client_redirect_uri_and_verifier() {
        let g = grant();
        let uri = Some("https://app.example/cb");
        assert!(redeem_code(&g, &ClientId::from("c1"), uri, Some(VERIFIER), 50).is_ok());
        assert_eq!(
            redeem_code(&g, &ClientId::from("c2"), uri, Some(VERIFIER), 50).unwrap_err().code,
            ErrorCode::InvalidGrant
        );
        assert!(redeem_code(&g, &ClientId::from("c1"), None, Some(VERIFIER), 50).is_err());
        assert!(redeem_code(&g, &ClientId::from("c1"), Some("https://app.example/other"), Some(VERIFIER), 50).is_err());
        assert!(redeem_code(&g, &ClientId::from("c1"), uri, None, 50).is_err());
        assert!(redeem_code(&g, &ClientId::from("c1"), uri, Some(VERIFIER), 100).is_err());
    }

    #[test]
    fn rfc6749_6_refresh_scope_may_narrow_never_widen() {
        let g = RefreshGrant {
            client_id: "c1".into(),
            user_id: "u".into(),
            scope: Scope::from_tokens(["a", "b"]),
            expires_at: 10,
        };
        assert_eq!(refresh(&g, &ClientId::from("c1"), None, 0).unwrap().to_string(), "a b");
        assert_eq!(refresh(&g, &ClientId::from("c1"), Some("a"), 0).unwrap().to_string(), "a");
        assert_eq!(refresh(&g, &ClientId::from("c1"), Some("a c"), 0).unwrap_err().code, ErrorCode::InvalidScope);
        assert_eq!(refresh(&g, &ClientId::from("c2"), None, 0).unwrap_err().code, ErrorCode::InvalidGrant);
        assert_eq!(refresh(&g, &ClientId::from("c1"), None, 10).unwrap_err().code, ErrorCode::InvalidGrant);
    }

    #[test]
    fn rfc6749_5_2_unknown_grant_type() {
        let e = TokenRequest::parse(&Params::from_pairs([("grant_type", "password")])).unwrap_err();
        assert_eq!(e.code, ErrorCode::UnsupportedGrantType);
        let e = TokenRequest::parse(&Params::from_pairs([("grant_type", "authorization_code")])).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rfc6749_5_token_request_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..300)) {
            if let Ok(params) = Params::parse(&body) {
                let _ = TokenRequest::parse(&params);
            }
        }

        #[test]
        fn rfc6749_4_1_3_redeem_never_panics(uri in proptest::option::of("\\PC{0,40}"), verifier in proptest::option::of("\\PC{0,130}"), now in any::<i64>()) {
            let grant = CodeGrant {
                client_id: "c".into(), user_id: "u".into(), redirect_uri: "https://a.example/cb".into(), redirect_uri_given: true,
                scope: Scope::default(), code_challenge: Some(CodeChallenge::s256("v")), expires_at: 100,
            };
            let _ = redeem_code(&grant, &ClientId::from("c"), uri.as_deref(), verifier.as_deref(), now);
        }
    }
}
