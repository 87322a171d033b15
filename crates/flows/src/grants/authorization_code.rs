//! Authorization code grant, RFC 6749 §4.1.3, with PKCE (RFC 7636 §4.6).

use latchkey_protocol::OAuthError;
use latchkey_protocol::client::Client;
use latchkey_protocol::secret::{AuthorizationCode, SecretHash};
use latchkey_protocol::token::{self, TokenResponse};

use crate::audit::{Subject, kind};
use crate::{AuthServer, FlowError};

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
            return Err(self.code_replayed(client, &hash, now).await);
        }
        token::redeem_code(&stored.grant, &client.id, redirect_uri, code_verifier, now)?;
        let grant = &stored.grant;
        let family = self.new_refresh_family(client, &grant.user_id, &grant.scope, Some(hash.clone()))?;
        // §4.1.2: single use, atomic even across instances: one racing request wins, and
        // the refresh family is stored with the win or not at all.
        if !self.store.consume_code(&hash, now, family.as_ref().map(|(_, row)| row)).await? {
            return Err(self.code_replayed(client, &hash, now).await);
        }
        self.user_tokens(client, &grant.user_id, &grant.scope, family).await
    }

    /// §4.1.2: "If an authorization code is used more than once, the authorization server
    /// MUST deny the request and SHOULD revoke (when possible) all tokens previously issued
    /// based on that authorization code."
    async fn code_replayed(&self, client: &Client, hash: &SecretHash, now: i64) -> FlowError {
        match self.store.revoke_refresh_by_code(hash, now).await {
            Ok(n) => {
                tracing::warn!(
                    revoked_refresh_tokens = n,
                    "authorization code replayed; tokens issued from it revoked"
                );
                let detail = Some(format!("{n} refresh tokens revoked"));
                self.audit(kind::CODE_REPLAY, Subject { client_id: Some(&client.id), detail, ..Subject::default() })
                    .await;
                OAuthError::invalid_grant("the authorization code was already used").into()
            }
            Err(e) => e.into(),
        }
    }
}
