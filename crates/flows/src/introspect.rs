//! Token introspection, RFC 7662 §2.

use latchkey_protocol::client::ClientType;
use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::introspection::{IntrospectionResponse, TokenTypeHint};
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{OAuthError, Scope};

use crate::{AuthServer, FlowError};

impl AuthServer {
    /// §2.1: answers whether `token` is active, for an authenticated (confidential) client.
    /// Anything unknown, expired, revoked or malformed is `{"active": false}` (§2.2).
    pub async fn introspect(
        &self,
        creds: &ClientCredentials,
        token: &str,
        hint: Option<&str>,
    ) -> Result<IntrospectionResponse, FlowError> {
        let caller = self.authenticate_client(creds).await?;
        // §2.1: "the endpoint MUST also require some form of authorization": a client that
        // can keep a secret (resource servers are registered as confidential clients).
        if caller.client_type() == ClientType::Public {
            return Err(OAuthError::invalid_client("introspection needs a confidential client").into());
        }
        let hash = SecretHash::of(token);
        let refresh_first = TokenTypeHint::parse(hint) == Some(TokenTypeHint::RefreshToken);
        if refresh_first && let Some(r) = self.introspect_refresh(&hash, &caller.id).await? {
            return Ok(r);
        }
        if let Some(r) = self.introspect_access(token, &hash).await? {
            return Ok(r);
        }
        if !refresh_first && let Some(r) = self.introspect_refresh(&hash, &caller.id).await? {
            return Ok(r);
        }
        Ok(IntrospectionResponse::inactive())
    }

    async fn introspect_access(
        &self,
        token: &str,
        hash: &SecretHash,
    ) -> Result<Option<IntrospectionResponse>, FlowError> {
        let now = self.now();
        // Opaque tokens (and only they carry the prefix) are found by digest.
        if token.starts_with(crate::token::ACCESS_PREFIX)
            && let Some(row) = self.store.access_token(hash).await?
        {
            let live = row.revoked_at.is_none()
                && now < row.expires_at
                && !self.family_revoked(row.family_id.as_deref()).await?;
            if !live {
                return Ok(Some(IntrospectionResponse::inactive()));
            }
            return Ok(Some(
                self.access_response(row.jti, row.client_id, row.subject, row.scope, row.created_at, row.expires_at)
                    .await?,
            ));
        }
        // JWTs are verified, then checked against revocations.
        let Some(claims) = self.keys.verify(token, &self.settings.issuer, now).await? else {
            return Ok(None);
        };
        let live = now < claims.exp
            && self.store.access_token_revoked_at(&claims.jti).await?.is_none()
            && !self.family_revoked(claims.gid.as_deref()).await?
            && self.client(&claims.client_id).await?.is_some();
        if !live {
            return Ok(Some(IntrospectionResponse::inactive()));
        }
        let mut r = self
            .access_response(claims.jti, claims.client_id, claims.sub, claims.scope, claims.iat, claims.exp)
            .await?;
        r.aud = Some(claims.aud);
        Ok(Some(r))
    }

    async fn family_revoked(&self, family: Option<&str>) -> Result<bool, FlowError> {
        Ok(match family {
            Some(f) => self.store.family_revoked(f).await?,
            None => false,
        })
    }

    async fn access_response(
        &self,
        jti: String,
        client_id: String,
        subject: String,
        scope: String,
        iat: i64,
        exp: i64,
    ) -> Result<IntrospectionResponse, FlowError> {
        let username = self.store.user(&subject).await?.map(|u| u.username);
        Ok(IntrospectionResponse {
            active: true,
            scope: Some(scope),
            client_id: Some(client_id),
            username,
            token_type: Some("access_token".into()),
            exp: Some(exp),
            iat: Some(iat),
            nbf: Some(iat),
            sub: Some(subject),
            aud: Some(self.settings.audience.clone()),
            iss: Some(self.settings.issuer.clone()),
            jti: Some(jti),
        })
    }

    /// Refresh tokens are shown only to the client they were issued to.
    async fn introspect_refresh(
        &self,
        hash: &SecretHash,
        caller: &str,
    ) -> Result<Option<IntrospectionResponse>, FlowError> {
        let Some(rt) = self.store.refresh_token(hash).await? else { return Ok(None) };
        if rt.grant.client_id != caller {
            return Ok(Some(IntrospectionResponse::inactive()));
        }
        let now = self.now();
        if rt.revoked_at.is_some() || rt.rotated_at.is_some() || now >= rt.grant.expires_at {
            return Ok(Some(IntrospectionResponse::inactive()));
        }
        let username = self.store.user(&rt.grant.user_id).await?.map(|u| u.username);
        Ok(Some(IntrospectionResponse {
            active: true,
            scope: Some(Scope::to_string(&rt.grant.scope)),
            client_id: Some(rt.grant.client_id),
            username,
            token_type: Some("refresh_token".into()),
            exp: Some(rt.grant.expires_at),
            sub: Some(rt.grant.user_id),
            iss: Some(self.settings.issuer.clone()),
            ..IntrospectionResponse::default()
        }))
    }
}
