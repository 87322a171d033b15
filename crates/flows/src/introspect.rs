//! Token introspection, RFC 7662 §2.

use latchkey_protocol::client::ClientType;
use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::introspection::{IntrospectionResponse, TokenTypeHint};
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{OAuthError, Scope};
use latchkey_store::AccessTokenRow;

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
        let hash = SecretHash::of_token(token);
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
            && let Some((row, standing)) = self.store.access_token_standing(hash).await?
        {
            if !standing.is_live() || now >= row.expires_at {
                return Ok(Some(IntrospectionResponse::inactive()));
            }
            return Ok(Some(self.access_response(row, standing.username)));
        }
        // JWTs are verified, then checked against revocations.
        let Some(claims) = self.keys.verify(token, &self.settings.issuer, now).await? else {
            return Ok(None);
        };
        if now >= claims.exp || self.client(&claims.client_id).await?.is_none() {
            return Ok(Some(IntrospectionResponse::inactive()));
        }
        let standing = self.store.jwt_standing(&claims.jti, claims.gid.as_deref(), &claims.sub).await?;
        if !standing.is_live() {
            return Ok(Some(IntrospectionResponse::inactive()));
        }
        let aud = claims.aud.clone();
        let mut r = self.access_response(crate::token::jwt_row(claims), standing.username);
        r.aud = Some(aud);
        Ok(Some(r))
    }

    /// §2.2: the answer for a live access token.
    fn access_response(&self, t: AccessTokenRow, username: Option<String>) -> IntrospectionResponse {
        IntrospectionResponse {
            active: true,
            scope: Some(t.scope),
            client_id: Some(t.client_id),
            username,
            token_type: Some("access_token".into()),
            exp: Some(t.expires_at),
            iat: Some(t.created_at),
            nbf: Some(t.created_at),
            sub: Some(t.subject),
            aud: Some(self.settings.audience.clone()),
            iss: Some(self.settings.issuer.clone()),
            jti: Some(t.jti),
        }
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
