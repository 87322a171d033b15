//! Token revocation, RFC 7009 §2.

use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::introspection::TokenTypeHint;
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{ClientId, OAuthError};

use crate::{AuthServer, FlowError};

impl AuthServer {
    /// §2.1: revokes `token` for the client that presents it. A refresh token takes its
    /// whole family (and the access tokens issued from it) along. An unknown or already
    /// revoked token is not an error (§2.2: "invalid tokens do not cause an error").
    pub async fn revoke(&self, creds: &ClientCredentials, token: &str, hint: Option<&str>) -> Result<(), FlowError> {
        let caller = self.authenticate_client(creds).await?;
        let hash = SecretHash::of_token(token);
        let now = self.now();
        // The hint only orders the lookups (§2.1: it is not trusted).
        let refresh_first = TokenTypeHint::parse(hint) != Some(TokenTypeHint::AccessToken);
        for refresh in if refresh_first { [true, false] } else { [false, true] } {
            let done = if refresh {
                self.revoke_refresh(&hash, &caller.id, now).await?
            } else {
                self.revoke_access(token, &hash, &caller.id, now).await?
            };
            if done {
                return Ok(());
            }
        }
        Ok(())
    }

    /// §2.1: "verifies whether the token was issued to the client making the revocation
    /// request. If this validation fails, the request is refused".
    fn not_yours() -> FlowError {
        OAuthError::unauthorized_client("the token was not issued to this client").into()
    }

    async fn revoke_refresh(&self, hash: &SecretHash, caller: &ClientId, now: i64) -> Result<bool, FlowError> {
        let Some(rt) = self.store.refresh_token(hash).await? else { return Ok(false) };
        if &rt.grant.client_id != caller {
            return Err(Self::not_yours());
        }
        let n = self.store.revoke_refresh_family(&rt.family_id, now).await?;
        tracing::info!(family = %rt.family_id, revoked = n, "refresh token family revoked");
        Ok(true)
    }

    async fn revoke_access(
        &self,
        token: &str,
        hash: &SecretHash,
        caller: &ClientId,
        now: i64,
    ) -> Result<bool, FlowError> {
        if let Some(row) = self.store.access_token(hash).await? {
            if &row.client_id != caller {
                return Err(Self::not_yours());
            }
            self.store.revoke_access_token(hash, now).await?;
            return Ok(true);
        }
        let Some(claims) = self.keys.verify(token, &self.settings.issuer, now).await? else { return Ok(false) };
        if &claims.client_id != caller {
            return Err(Self::not_yours());
        }
        if claims.exp > now {
            let row = crate::token::jwt_row(claims);
            self.store.revoke_jwt(&row, now).await?;
        }
        Ok(true)
    }
}
