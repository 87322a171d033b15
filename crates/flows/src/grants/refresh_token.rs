//! Refresh token grant, RFC 6749 §6, with rotation and reuse detection (RFC 9700 §4.14.2),
//! and a grace period for honest retries.
//!
//! Rotation punishes honest clients whose response was lost, or two tabs refreshing at
//! once. So a token's successor is derived from it (HMAC with an installation key, see
//! [`AuthServer::successor_of`]): presenting the just-rotated token again within
//! `refresh_grace_period` returns the same successor instead of revoking the family.
//! Outside the grace period, or once the successor has been used, reuse revokes the family.

use aws_lc_rs::hmac;
use latchkey_protocol::client::Client;
use latchkey_protocol::secret::{RefreshToken, STAMPED_RANDOM_BYTES, stamp};
use latchkey_protocol::token::{self, RefreshGrant, TokenResponse};
use latchkey_protocol::{FamilyId, OAuthError, Scope, Subject};
use latchkey_store::{NewRefreshToken, StoredRefreshToken};

use crate::audit::{self, kind};
use crate::{AuthServer, FlowError, secrets};

impl AuthServer {
    /// The successor of a refresh token rotated at `rotated_at`: stamped with that time,
    /// its random part is HMAC-SHA256(key, token) ([`stamp`]). Only its key is stored, like
    /// every token's.
    fn successor_of(&self, presented: &RefreshToken, rotated_at: i64) -> RefreshToken {
        let mut tag = [0u8; STAMPED_RANDOM_BYTES];
        tag.copy_from_slice(hmac::sign(&self.refresh_key, presented.expose().as_bytes()).as_ref());
        RefreshToken::new(stamp(secrets::REFRESH_PREFIX, rotated_at, &tag))
    }

    pub(crate) async fn refresh(
        &self,
        client: &Client,
        presented: &RefreshToken,
        scope: Option<&str>,
    ) -> Result<TokenResponse, FlowError> {
        let hash = presented.hash();
        let now = self.now();
        let successor = self.successor_of(presented, now);
        // The usual case in one write: a live token of this client, no scope asked (§6:
        // then the scope is the one granted). The write checks what `token::refresh`
        // would; when it changes nothing, the token is read to say why.
        if scope.is_none()
            && let Some(stored) =
                self.store.rotate_live_refresh_token(&hash, &client.id, &successor.hash(), now).await?
        {
            let access_scope = token::refresh(&stored.grant, &client.id, None, now)?;
            return self.refresh_response(client, &stored, successor, access_scope).await;
        }
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
            return self.retry_or_reuse(client, presented, &stored, scope, now).await;
        }
        let access_scope = token::refresh(&stored.grant, &client.id, scope, now)?;
        // §6: "the authorization server MAY issue a new refresh token, in which case the
        // client MUST discard the old refresh token". The new one keeps the original scope
        // and the family's absolute expiry.
        let row = NewRefreshToken {
            hash: successor.hash(),
            family_id: stored.family_id.clone(),
            grant: RefreshGrant { ..stored.grant.clone() },
            created_at: now,
        };
        if !self.store.rotate_refresh_token(&hash, &row, now).await? {
            // Another request rotated (or revoked) it between our read and our write: two
            // tabs at once, or a thief. Decide as for any rotated token.
            let Some(stored) = self.store.refresh_token(&hash).await? else {
                return Err(OAuthError::invalid_grant("unknown refresh token").into());
            };
            return self.retry_or_reuse(client, presented, &stored, scope, now).await;
        }
        self.refresh_response(client, &stored, successor, access_scope).await
    }

    /// A rotated token presented again: within the grace period, and while its successor is
    /// unused, the same successor again; otherwise reuse, and the family is revoked.
    async fn retry_or_reuse(
        &self,
        client: &Client,
        presented: &RefreshToken,
        stored: &StoredRefreshToken,
        scope: Option<&str>,
        now: i64,
    ) -> Result<TokenResponse, FlowError> {
        let grace = self.settings.refresh_grace_period;
        let in_grace =
            stored.revoked_at.is_none() && stored.rotated_at.is_some_and(|at| now - at <= grace) && grace > 0;
        if in_grace && let Some(rotated_at) = stored.rotated_at {
            let successor = self.successor_of(presented, rotated_at);
            if let Some(next) = self.store.refresh_token(&successor.hash()).await?
                && next.rotated_at.is_none()
                && next.revoked_at.is_none()
                && next.family_id == stored.family_id
            {
                let access_scope = token::refresh(&next.grant, &client.id, scope, now)?;
                tracing::info!(family = %stored.family_id, "refresh retried within the grace period; same successor");
                return self.refresh_response(client, &next, successor, access_scope).await;
            }
        }
        Err(self.refresh_reused(client, &stored.family_id, now).await)
    }

    async fn refresh_response(
        &self,
        client: &Client,
        stored: &StoredRefreshToken,
        successor: RefreshToken,
        access_scope: Scope,
    ) -> Result<TokenResponse, FlowError> {
        let subject = Subject::user(&stored.grant.user_id);
        let (access_token, expires_in) =
            self.access_token(client, &subject, &access_scope, Some(&stored.family_id)).await?;
        Ok(TokenResponse::bearer(access_token, expires_in, &access_scope, Some(&successor)))
    }

    /// RFC 9700 §4.14.2: a rotated refresh token presented again means one of two parties
    /// holds a stolen copy; revoke the whole family.
    async fn refresh_reused(&self, client: &Client, family_id: &FamilyId, now: i64) -> FlowError {
        match self.store.revoke_refresh_family(family_id, now).await {
            Ok(n) => {
                tracing::warn!(family = %family_id, revoked = n, "refresh token reused; family revoked");
                let detail = Some(format!("family {family_id}: {n} tokens revoked"));
                self.audit(
                    kind::REFRESH_REUSE,
                    audit::Subject { client_id: Some(client.id.as_str()), detail, ..audit::Subject::default() },
                )
                .await;
                OAuthError::invalid_grant("the refresh token was already used").into()
            }
            Err(e) => e.into(),
        }
    }
}
