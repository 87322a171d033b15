//! Authorization code grant, RFC 6749 §4.1.3, with PKCE (RFC 7636 §4.6).

use latchkey_protocol::OAuthError;
use latchkey_protocol::client::{Client, GrantType};
use latchkey_protocol::secret::{AuthorizationCode, RefreshToken, SecretHash};
use latchkey_protocol::token::{self, RefreshGrant, TokenResponse};
use latchkey_store::NewRefreshToken;

use crate::{AuthServer, FlowError, secrets};

impl AuthServer {
    pub(crate) async fn redeem_code(
        &self,
        client: &Client,
        code: &AuthorizationCode,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> Result<TokenResponse, FlowError> {
        let hash = code.hash();
        let now = self.now();
        let Some(stored) = self.store.code(&hash).await? else {
            return Err(OAuthError::invalid_grant("unknown authorization code").into());
        };
        if stored.consumed_at.is_some() {
            return Err(self.code_replayed(&hash, now).await);
        }
        token::redeem_code(&stored.grant, &client.id, redirect_uri, code_verifier, now)?;
        // §4.1.2: single use, atomic even across instances: one racing request wins.
        if !self.store.consume_code(&hash, now).await? {
            return Err(self.code_replayed(&hash, now).await);
        }
        let grant = &stored.grant;
        let (access_token, expires_in) =
            self.access_token(&grant.user_id, &client.id, &grant.scope)?;
        let refresh_token = if client.allows_grant(GrantType::RefreshToken) {
            let token = RefreshToken::new(secrets::new_secret(secrets::REFRESH_PREFIX)?);
            let row = NewRefreshToken {
                hash: token.hash(),
                family_id: secrets::new_id()?,
                code_hash: Some(hash),
                grant: RefreshGrant {
                    client_id: client.id.clone(),
                    user_id: grant.user_id.clone(),
                    scope: grant.scope.clone(),
                    expires_at: now + self.settings.refresh_token_ttl,
                },
                created_at: now,
            };
            self.store.insert_refresh_token(&row).await?;
            Some(token.expose().to_owned())
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token,
            scope: Some(grant.scope.to_string()),
        })
    }

    /// §4.1.2: "If an authorization code is used more than once, the authorization server
    /// MUST deny the request and SHOULD revoke (when possible) all tokens previously issued
    /// based on that authorization code."
    async fn code_replayed(&self, hash: &SecretHash, now: i64) -> FlowError {
        match self.store.revoke_refresh_by_code(hash, now).await {
            Ok(n) => {
                tracing::warn!(
                    revoked_refresh_tokens = n,
                    "authorization code replayed; tokens issued from it revoked"
                );
                OAuthError::invalid_grant("the authorization code was already used").into()
            }
            Err(e) => e.into(),
        }
    }
}
