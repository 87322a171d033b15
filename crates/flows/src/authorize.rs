//! The authorization endpoint's use case, RFC 6749 §4.1.1–§4.1.2: validate, have the
//! resource owner log in and consent, issue a code.

use std::sync::Arc;

use latchkey_protocol::authorize::{self, AuthorizationRequest, AuthorizeError};
use latchkey_protocol::client::{Client, ClientType};
use latchkey_protocol::form::Params;
use latchkey_protocol::secret::SessionToken;
use latchkey_protocol::token::CodeGrant;
use latchkey_protocol::{OAuthError, Scope};
use latchkey_store::User;

use crate::audit::{Subject, kind};
use crate::{AuthServer, FlowError, ScopeDefinition};

/// What the authorization endpoint does next.
#[derive(Debug)]
pub enum AuthorizeOutcome {
    /// The resource owner must log in first (and only then learns of an error, when the
    /// client registered itself: RFC 9700 §4.11.2).
    Login {
        /// The client asking.
        client: Arc<Client>,
    },
    /// The resource owner must approve the request.
    Consent {
        /// The validated request.
        request: AuthorizationRequest,
        /// The client asking.
        client: Arc<Client>,
        /// Each requested scope, with its sentence.
        scopes: Vec<ScopeDefinition>,
        /// Who is asked.
        username: String,
        /// The user approved all of this before: a public client still needs one click
        /// (RFC 8252 §8.6), so the page only asks to continue.
        remembered: bool,
    },
    /// Done: send the browser here (the client's redirection endpoint with a code or an error).
    Redirect(String),
}

/// The resource owner's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Approve the request.
    Allow,
    /// Refuse it (§4.1.2.1 `access_denied`).
    Deny,
}

impl AuthServer {
    async fn validate_authorization(&self, params: &Params) -> Result<(AuthorizationRequest, Arc<Client>), FlowError> {
        let client_id = authorize::client_id(params).map_err(FlowError::Authorize)?;
        let client = self.client(client_id).await?;
        let request =
            authorize::validate(params, client.as_deref(), &self.settings.scope_set()).map_err(FlowError::Authorize)?;
        let client = client.ok_or_else(|| {
            FlowError::Authorize(AuthorizeError::Show(OAuthError::invalid_request("unknown client_id")))
        })?;
        Ok((request, client))
    }

    /// Handles an authorization request from a browser holding `session` (the login
    /// session cookie), if any.
    pub async fn authorize(
        &self,
        params: &Params,
        session: Option<&SessionToken>,
    ) -> Result<AuthorizeOutcome, FlowError> {
        let client_id = authorize::client_id(params).map_err(FlowError::Authorize)?;
        let client = self.client(client_id).await?;
        let request = match authorize::validate(params, client.as_deref(), &self.settings.scope_set()) {
            Ok(request) => request,
            // RFC 9700 §4.11.2: a redirect URI that anyone registered is not vouched for, so
            // the server "MUST always authenticate the user first" before sending an error
            // there; the standard error response still follows the login, with `state`.
            Err(e @ AuthorizeError::Redirect { .. }) => match client {
                Some(client) if client.registered_dynamically && !self.logged_in(session).await? => {
                    return Ok(AuthorizeOutcome::Login { client });
                }
                _ => return Err(FlowError::Authorize(e)),
            },
            Err(e) => return Err(FlowError::Authorize(e)),
        };
        let client = client.ok_or_else(|| {
            FlowError::Authorize(AuthorizeError::Show(OAuthError::invalid_request("unknown client_id")))
        })?;
        let found = match session {
            Some(token) => self.store.session_user_consent(&token.hash(), &client.id, self.now()).await?,
            None => None,
        };
        let Some((user, approved)) = found else {
            return Ok(AuthorizeOutcome::Login { client });
        };
        // §10.2: consent is a record of this user approving this client for these scopes;
        // `request.scope` is never empty (§3.3), so no record means asking.
        let remembered = approved.is_some_and(|approved| request.scope.is_subset(&approved));
        // RFC 8252 §8.6: any local process can claim a public client's loopback redirect,
        // so a public client never gets a code without the user seeing the page.
        if remembered && client.client_type() == ClientType::Confidential {
            let url = self.issue_code(&request, &user)?;
            return Ok(AuthorizeOutcome::Redirect(url));
        }
        let scopes = self.describe_scope(&request.scope);
        Ok(AuthorizeOutcome::Consent { request, client, scopes, username: user.username, remembered })
    }

    async fn logged_in(&self, session: Option<&SessionToken>) -> Result<bool, FlowError> {
        Ok(match session {
            Some(token) => self.session_user(token).await?.is_some(),
            None => false,
        })
    }

    /// Applies the resource owner's decision on the consent page to the (re-validated) request.
    pub async fn decide(&self, params: &Params, user: &User, decision: Decision) -> Result<String, FlowError> {
        let (request, client) = self.validate_authorization(params).await?;
        match decision {
            Decision::Deny => Ok(authorize::error_redirect(
                &request.redirect_uri,
                request.state.as_deref(),
                &OAuthError::access_denied("the resource owner denied the request"),
                &self.settings.issuer,
            )),
            Decision::Allow => {
                self.store.grant_consent(&user.id, &client.id, &request.scope, self.now()).await?;
                let detail = Some(format!("scope: {}", request.scope));
                let subject = Subject {
                    actor: Some(&user.username),
                    client_id: Some(client.id.as_str()),
                    detail,
                    ..Subject::default()
                };
                self.audit(kind::CONSENT_GRANTED, subject).await;
                self.issue_code(&request, user)
            }
        }
    }

    /// Each scope with its consent sentence.
    pub fn describe_scope(&self, scope: &Scope) -> Vec<ScopeDefinition> {
        scope.iter().map(|s| ScopeDefinition { name: s.to_owned(), description: self.settings.describe(s) }).collect()
    }

    /// §4.1.2: issues a short-lived, single-use code bound to the client, redirect URI,
    /// PKCE challenge, scope and user, and returns the redirect carrying it. The code is
    /// sealed (`code_seal`): issuing it stores nothing.
    fn issue_code(&self, request: &AuthorizationRequest, user: &User) -> Result<String, FlowError> {
        let now = self.now();
        let grant = CodeGrant {
            client_id: request.client_id.clone(),
            user_id: user.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_given: request.redirect_uri_given,
            scope: request.scope.clone(),
            code_challenge: request.code_challenge.clone(),
            expires_at: now + self.settings.code_ttl,
        };
        let code = self.codes.seal(&grant)?;
        Ok(authorize::success_redirect(request, code.expose(), &self.settings.issuer))
    }
}
