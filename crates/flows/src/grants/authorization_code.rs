//! Authorization code grant, RFC 6749 §4.1.3, with PKCE (RFC 7636 §4.6).

use latchkey_protocol::client::Client;
use latchkey_protocol::secret::{AuthorizationCode, SecretHash};
use latchkey_protocol::token::{self, TokenResponse};
use latchkey_protocol::{FamilyId, OAuthError};

use crate::audit::{Subject, kind};
use crate::{AuthServer, FlowError, secrets};

/// How long the record of a redeemed code outlives the code: the janitor of one instance
/// must not forget a redemption while another instance, its clock behind, could still
/// accept the code.
const CONSUMED_CODE_KEPT_AFTER_EXPIRY: i64 = 300;

impl AuthServer {
    pub(crate) async fn redeem_code(
        &self,
        client: &Client,
        code: &AuthorizationCode,
        redirect_uri: Option<&str>,
        code_verifier: Option<&str>,
    ) -> Result<TokenResponse, FlowError> {
        // §4.1.2: a code this installation did not seal, or that was altered, is unknown.
        let Some(grant) = self.codes.open(code) else {
            return Err(OAuthError::invalid_grant("unknown authorization code").into());
        };
        // Keyed by its expiry, so the records of codes redeemed in turn sit side by side.
        let hash = SecretHash::at(grant.expires_at, code.expose());
        let now = self.now();
        if let Err(e) = token::redeem_code(&grant, &client.id, redirect_uri, code_verifier, now) {
            return Err(self.refused(client, &hash, now, e.into()).await);
        }
        let family = self.new_refresh_family(client, &grant.user_id, &grant.scope)?;
        // Every token issued from the code carries the family it starts, with or without a
        // refresh token, so a replay can revoke them all (§4.1.2).
        let family_id = match &family {
            Some((_, row)) => row.family_id.clone(),
            None => FamilyId::from(secrets::new_ordered_id()?),
        };
        // §4.1.2: single use, atomic even across instances: one racing request wins, and
        // the refresh family is stored with the win or not at all.
        let keep_until = grant.expires_at + CONSUMED_CODE_KEPT_AFTER_EXPIRY;
        let row = family.as_ref().map(|(_, row)| row);
        if !self.store.consume_code(&hash, &grant.user_id, keep_until, &family_id, row).await? {
            let gone = OAuthError::invalid_grant("the resource owner's account no longer exists");
            return Err(self.refused(client, &hash, now, gone.into()).await);
        }
        self.user_tokens(client, &grant.user_id, &grant.scope, Some(&family_id), family).await
    }

    /// Why a redemption was refused: a replay when the code was redeemed before, whatever
    /// else is wrong with it; `reason` otherwise.
    async fn refused(&self, client: &Client, hash: &SecretHash, now: i64, reason: FlowError) -> FlowError {
        match self.store.code_consumed(hash).await {
            Ok(true) => self.code_replayed(client, hash, now).await,
            Ok(false) => reason,
            Err(e) => e.into(),
        }
    }

    /// §4.1.2: "If an authorization code is used more than once, the authorization server
    /// MUST deny the request and SHOULD revoke (when possible) all tokens previously issued
    /// based on that authorization code."
    async fn code_replayed(&self, client: &Client, hash: &SecretHash, now: i64) -> FlowError {
        // The access tokens of the family expire by then, whenever they were issued.
        let access_expiry = now + self.settings.access_token_ttl;
        match self.store.revoke_refresh_by_code(hash, now, access_expiry).await {
            Ok(n) => {
                tracing::warn!(
                    revoked_refresh_tokens = n,
                    "authorization code replayed; tokens issued from it revoked"
                );
                let detail = Some(format!("{n} refresh tokens revoked"));
                self.audit(
                    kind::CODE_REPLAY,
                    Subject { client_id: Some(client.id.as_str()), detail, ..Subject::default() },
                )
                .await;
                OAuthError::invalid_grant("the authorization code was already used").into()
            }
            Err(e) => e.into(),
        }
    }
}
