//! The token endpoint's use case, RFC 6749 §3.2: authenticate the client, then run its grant.

use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::jwt::AccessTokenClaims;
use latchkey_protocol::token::{TokenRequest, TokenResponse};
use latchkey_protocol::{OAuthError, Scope};

use crate::{AuthServer, FlowError, secrets};

impl AuthServer {
    /// Exchanges a grant for tokens.
    pub async fn exchange(
        &self,
        creds: &ClientCredentials,
        request: TokenRequest,
    ) -> Result<TokenResponse, FlowError> {
        // §3.2.1: authenticate the client. An unknown client fails like a wrong secret.
        let Some(client) = self.store.client(creds.client_id()).await? else {
            return Err(OAuthError::invalid_client("client authentication failed").into());
        };
        client.authenticate(creds)?;
        // §5.2 unauthorized_client: "not authorized to use this authorization grant type".
        if !client.allows_grant(request.grant_type()) {
            return Err(OAuthError::unauthorized_client(format!(
                "this client may not use the {} grant",
                request.grant_type()
            ))
            .into());
        }
        match request {
            TokenRequest::AuthorizationCode {
                code,
                redirect_uri,
                code_verifier,
            } => {
                self.redeem_code(
                    &client,
                    &code,
                    redirect_uri.as_deref(),
                    code_verifier.as_deref(),
                )
                .await
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope,
            } => {
                self.refresh(&client, &refresh_token, scope.as_deref())
                    .await
            }
            TokenRequest::ClientCredentials { scope } => {
                self.client_credentials(&client, scope.as_deref()).await
            }
        }
    }

    /// Signs an RFC 9068 access token; returns it with its lifetime.
    pub(crate) fn access_token(
        &self,
        sub: &str,
        client_id: &str,
        scope: &Scope,
    ) -> Result<(String, i64), FlowError> {
        let now = self.now();
        let ttl = self.settings.access_token_ttl;
        let claims = AccessTokenClaims {
            iss: self.settings.issuer.clone(),
            sub: sub.to_owned(),
            aud: self.settings.audience.clone(),
            client_id: client_id.to_owned(),
            scope: scope.to_string(),
            exp: now + ttl,
            iat: now,
            jti: secrets::new_id()?,
        };
        Ok((self.keys.sign(&claims)?, ttl))
    }
}
