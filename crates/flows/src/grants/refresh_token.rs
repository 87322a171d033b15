//! Refresh token grant, RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2).

use latchkey_protocol::OAuthError;
use latchkey_protocol::client::Client;
use latchkey_protocol::secret::RefreshToken;
use latchkey_protocol::token::{self, RefreshGrant, TokenResponse};
use latchkey_store::NewRefreshToken;

use crate::{AuthServer, FlowError, secrets};

impl AuthServer {
    pub(crate) async fn refresh(
        &self,
        client: &Client,
        presented: &RefreshToken,
        scope: Option<&str>,
    ) -> Result<TokenResponse, FlowError> {
        let hash = presented.hash();
        let now = self.now();
        let Some(stored) = self.store.refresh_token(&hash).await? else {
            return Err(OAuthError::invalid_grant("unknown refresh token").into());
        };
        // §6: bound to the client; checked first so another client's attempt changes nothing.
        if stored.grant.client_id != client.id {
            return Err(OAuthError::invalid_grant("the refresh token was issued to another client").into());
        }
        if stored.revoked_at.is_some() {
            return Err(OAuthError::invalid_grant("the refresh token was revoked").into());
        }
        if stored.rotated_at.is_some() {
            return Err(self.refresh_reused(&stored.family_id, now).await);
        }
        let access_scope = token::refresh(&stored.grant, &client.id, scope, now)?;
        // §6: "the authorization server MAY issue a new refresh token, in which case the
        // client MUST discard the old refresh token". The new one keeps the original scope
        // and the family's absolute expiry.
        let successor = RefreshToken::new(secrets::new_secret(secrets::REFRESH_PREFIX)?);
        let row = NewRefreshToken {
            hash: successor.hash(),
            family_id: stored.family_id.clone(),
            code_hash: stored.code_hash.clone(),
            grant: RefreshGrant { ..stored.grant.clone() },
            created_at: now,
        };
        if !self.store.rotate_refresh_token(&hash, &row, now).await? {
            // Another request rotated (or revoked) it between our read and our write.
            return Err(self.refresh_reused(&stored.family_id, now).await);
        }
        let (access_token, expires_in) =
            self.access_token(client, &stored.grant.user_id, &access_scope, Some(&stored.family_id)).await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in,
            refresh_token: Some(successor.expose().to_owned()),
            scope: Some(access_scope.to_string()),
        })
    }

    /// RFC 9700 §4.14.2: a rotated refresh token presented again means one of two parties
    /// holds a stolen copy; revoke the whole family.
    async fn refresh_reused(&self, family_id: &str, now: i64) -> FlowError {
        match self.store.revoke_refresh_family(family_id, now).await {
            Ok(n) => {
                tracing::warn!(family = family_id, revoked = n, "refresh token reused; family revoked");
                OAuthError::invalid_grant("the refresh token was already used").into()
            }
            Err(e) => e.into(),
        }
    }
}
