//! The authorization request, RFC 6749 §4.1.1 and §4.1.2.1, with PKCE (RFC 7636 §4.3).

use crate::client::{Client, GrantType};
use crate::form::Params;
use crate::pkce::CodeChallenge;
use crate::{ClientId, OAuthError, Scope, redirect};

/// A validated authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizationRequest {
    /// The client asking.
    pub client_id: ClientId,
    /// Where the answer goes: the requested URI, or the only registered one.
    pub redirect_uri: String,
    /// Whether `redirect_uri` was in the request; if so the token request must repeat it (§4.1.3).
    pub redirect_uri_given: bool,
    /// The scope asked for (or the client's default, §3.3).
    pub scope: Scope,
    /// Opaque client value returned exactly (§4.1.2).
    pub state: Option<String>,
    /// RFC 7636 challenge.
    pub code_challenge: Option<CodeChallenge>,
}

/// Why an authorization request failed, and where the answer goes.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// §4.1.2.1: "If the request fails due to a missing, invalid, or mismatching redirection
    /// URI, or if the client identifier is missing or invalid, the authorization server
    /// SHOULD inform the resource owner of the error and MUST NOT automatically redirect".
    Show(OAuthError),
    /// Every other error is sent to the client's redirection endpoint, with `state`.
    Redirect {
        /// The validated redirection endpoint.
        redirect_uri: String,
        /// The client's `state`, returned exactly.
        state: Option<String>,
        /// The error.
        error: OAuthError,
    },
}

impl AuthorizeError {
    /// The error code, wherever it goes.
    pub fn error(&self) -> &OAuthError {
        match self {
            AuthorizeError::Show(e) | AuthorizeError::Redirect { error: e, .. } => e,
        }
    }
}

/// The `client_id` of a request, or the error page when it is missing.
pub fn client_id(params: &Params) -> Result<&str, AuthorizeError> {
    params
        .get("client_id")
        .ok_or_else(|| AuthorizeError::Show(OAuthError::invalid_request("missing parameter `client_id`")))
}

/// Validates an authorization request against the client it names (`None` when unknown).
pub fn validate(
    params: &Params,
    client: Option<&Client>,
    server_scopes: &Scope,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let client_id = client_id(params)?;
    let Some(client) = client.filter(|c| c.id == client_id) else {
        return Err(AuthorizeError::Show(OAuthError::invalid_request("unknown client_id")));
    };
    // §3.1.2.3: redirect_uri may be omitted only when exactly one is registered.
    let (redirect_uri, redirect_uri_given) = match params.get("redirect_uri") {
        Some(requested) => {
            if !client.redirect_uris.iter().any(|r| redirect::matches(r, requested)) {
                return Err(AuthorizeError::Show(OAuthError::invalid_request(
                    "redirect_uri is not registered for this client",
                )));
            }
            (requested.to_owned(), true)
        }
        None => match client.redirect_uris.as_slice() {
            [only] => (only.clone(), false),
            [] => {
                return Err(AuthorizeError::Show(OAuthError::invalid_request(
                    "this client has no registered redirect_uri",
                )));
            }
            _ => {
                return Err(AuthorizeError::Show(OAuthError::invalid_request("missing parameter `redirect_uri`")));
            }
        },
    };
    let state = params.get("state").map(str::to_owned);
    let redirect_error = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };

    // §4.1.1: response_type REQUIRED, "code".
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err(redirect_error(OAuthError::unsupported_response_type("only response_type=code is supported")));
        }
        None => {
            return Err(redirect_error(OAuthError::invalid_request("missing parameter `response_type`")));
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(redirect_error(OAuthError::unauthorized_client(
            "this client may not use the authorization code grant",
        )));
    }
    let scope = client.resolve_scope(params.get("scope"), server_scopes).map_err(&redirect_error)?;
    // RFC 7636 §4.4.1: a server that requires PKCE answers invalid_request without a challenge.
    let code_challenge = match params.get("code_challenge") {
        Some(c) => Some(CodeChallenge::parse(c, params.get("code_challenge_method")).map_err(&redirect_error)?),
        None if client.pkce_required() => {
            return Err(redirect_error(OAuthError::invalid_request("code_challenge is required (PKCE, RFC 7636)")));
        }
        None if params.get("code_challenge_method").is_some() => {
            return Err(redirect_error(OAuthError::invalid_request("code_challenge_method without code_challenge")));
        }
        None => None,
    };
    Ok(AuthorizationRequest {
        client_id: client.id.clone(),
        redirect_uri,
        redirect_uri_given,
        scope,
        state,
        code_challenge,
    })
}

/// The success redirect (§4.1.2): `code`, `state` when the request had one, and `iss`
/// (RFC 9207 §2: "in all authorization responses", a defence against mix-up attacks).
pub fn success_redirect(req: &AuthorizationRequest, code: &str, issuer: &str) -> String {
    let mut params = vec![("code", code)];
    if let Some(s) = &req.state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect::with_params(&req.redirect_uri, &params)
}

/// The error redirect (§4.1.2.1): `error`, `error_description`, `state` when given, and
/// `iss` (RFC 9207 §2, error responses included).
pub fn error_redirect(redirect_uri: &str, state: Option<&str>, error: &OAuthError, issuer: &str) -> String {
    let mut params = vec![("error", error.code.as_str()), ("error_description", error.description.as_ref())];
    if let Some(s) = state {
        params.push(("state", s));
    }
    params.push(("iss", issuer));
    redirect::with_params(redirect_uri, &params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use crate::secret::SecretHash;

    fn client() -> Client {
        Client {
            id: "c1".into(),
            name: "App".into(),
            secret_hash: Some(SecretHash::of("s")),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            scopes: None,
            require_pkce: true,
            created_at: 0,
            token_format: crate::client::TokenFormat::Jwt,
            metadata: None,
            registered_dynamically: false,
            may_introspect: false,
        }
    }

    fn params(extra: &[(&'static str, &'static str)]) -> Params {
        let mut p = vec![
            ("client_id", "c1"),
            ("response_type", "code"),
            ("state", "xyz"),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            ("code_challenge_method", "S256"),
        ];
        for (k, v) in extra {
            p.retain(|(n, _)| n != k);
            p.push((k, v));
        }
        Params::from_pairs(p)
    }

    fn scopes() -> Scope {
        Scope::from_tokens(["profile", "notes:read"])
    }

    #[test]
    fn rfc6749_4_1_1_valid_request() {
        let r = validate(&params(&[]), Some(&client()), &scopes()).unwrap();
        assert_eq!(r.redirect_uri, "https://app.example/cb");
        assert!(!r.redirect_uri_given);
        assert_eq!(r.scope, scopes());
    }

    #[test]
    fn rfc6749_4_1_2_1_unknown_client_is_not_redirected() {
        assert!(matches!(validate(&params(&[]), None, &scopes()), Err(AuthorizeError::Show(_))));
        assert!(matches!(
            validate(&params(&[("client_id", "")]), Some(&client()), &scopes()),
            Err(AuthorizeError::Show(_))
        ));
    }

    #[test]
    fn rfc6749_4_1_2_1_unregistered_redirect_uri_is_not_redirected() {
        let e =
            validate(&params(&[("redirect_uri", "https://evil.example/cb")]), Some(&client()), &scopes()).unwrap_err();
        assert!(matches!(e, AuthorizeError::Show(_)));
    }

    #[test]
    fn rfc6749_4_1_2_1_other_errors_are_redirected_with_state() {
        let cases: [(&[(&str, &str)], ErrorCode); 4] = [
            (&[("response_type", "token")], ErrorCode::UnsupportedResponseType),
            (&[("response_type", "")], ErrorCode::InvalidRequest),
            (&[("scope", "admin")], ErrorCode::InvalidScope),
            (&[("code_challenge", "")], ErrorCode::InvalidRequest),
        ];
        for (extra, code) in cases {
            match validate(&params(extra), Some(&client()), &scopes()).unwrap_err() {
                AuthorizeError::Redirect { state, error, .. } => {
                    assert_eq!(state.as_deref(), Some("xyz"));
                    assert_eq!(error.code, code, "{extra:?}");
                }
                other => panic!("not redirected: {other:?}"),
            }
        }
    }

    #[test]
    fn rfc7636_4_3_plain_method_refused_with_redirect() {
        let e = validate(&params(&[("code_challenge_method", "plain")]), Some(&client()), &scopes()).unwrap_err();
        assert!(matches!(e, AuthorizeError::Redirect { .. }));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn rfc6749_4_1_1_authorization_request_validation_never_panics(query in proptest::collection::vec(any::<u8>(), 0..400)) {
            let client = Client {
                id: "c1".into(), name: "App".into(), secret_hash: None, redirect_uris: vec!["https://app.example/cb".into()],
                grant_types: vec![GrantType::AuthorizationCode], scopes: None, require_pkce: true, created_at: 0,
                token_format: crate::client::TokenFormat::Jwt, metadata: None, registered_dynamically: false, may_introspect: false,
            };
            if let Ok(params) = Params::parse(&query) {
                let _ = validate(&params, Some(&client), &Scope::from_tokens(["a"]));
            }
        }
    }
}
