//! Token introspection, RFC 7662 §2.

use latchkey_protocol::client::ClientType;
use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::introspection::{IntrospectionResponse, TokenTypeHint};
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{ClientId, OAuthError, Scope};
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
            // §4: a client learns only of its own tokens, unless the operator made it a
            // resource server; for anyone else every other token is simply not active.
            let visible = caller.may_introspect || r.client_id.as_deref() == Some(caller.id.as_str());
            return Ok(if visible { r } else { IntrospectionResponse::inactive() });
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
            if !standing.is_live() || now >= row.expires_at || owner_gone(&row, &standing) {
                return Ok(Some(IntrospectionResponse::inactive()));
            }
            return Ok(Some(self.access_response(row, standing.username)));
        }
        // JWTs are verified, then checked against revocations.
        let Some(claims) = self.keys.verify(token, &self.settings.issuer, now).await? else {
            return Ok(None);
        };
        if now >= claims.exp || self.client(claims.client_id.as_str()).await?.is_none() {
            return Ok(Some(IntrospectionResponse::inactive()));
        }
        let standing = self.store.jwt_standing(&claims.jti, claims.gid.as_ref(), &claims.sub).await?;
        let aud = claims.aud.clone();
        let row = crate::token::jwt_row(claims);
        if !standing.is_live() || owner_gone(&row, &standing) {
            return Ok(Some(IntrospectionResponse::inactive()));
        }
        let mut r = self.access_response(row, standing.username);
        r.aud = Some(aud);
        Ok(Some(r))
    }

    /// §2.2: the answer for a live access token.
    fn access_response(&self, t: AccessTokenRow, username: Option<String>) -> IntrospectionResponse {
        IntrospectionResponse {
            active: true,
            scope: Some(t.scope),
            client_id: Some(t.client_id.into()),
            username,
            // §2.2: "type of the token as defined in Section 5.1 of OAuth 2.0", the
            // `token_type` of the token response, not a token type hint.
            token_type: Some("Bearer".into()),
            exp: Some(t.expires_at),
            iat: Some(t.created_at),
            nbf: Some(t.created_at),
            sub: Some(t.subject.into()),
            aud: Some(self.settings.audience.clone()),
            iss: Some(self.settings.issuer.clone()),
            jti: Some(t.jti.into()),
        }
    }

    /// Refresh tokens are shown only to the client they were issued to.
    async fn introspect_refresh(
        &self,
        hash: &SecretHash,
        caller: &ClientId,
    ) -> Result<Option<IntrospectionResponse>, FlowError> {
        let Some(rt) = self.store.refresh_token(hash).await? else { return Ok(None) };
        if &rt.grant.client_id != caller {
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
            client_id: Some(rt.grant.client_id.into()),
            username,
            // A refresh token has no RFC 6749 §5.1 token type (it is never presented to a
            // resource server), so the optional member is left out.
            exp: Some(rt.grant.expires_at),
            sub: Some(rt.grant.user_id.into()),
            iss: Some(self.settings.issuer.clone()),
            ..IntrospectionResponse::default()
        }))
    }
}

/// A token issued to a user (not to a client for itself, RFC 9068 §2.2: `sub` is then the
/// client id) whose account was removed: nothing it was issued for stands any more.
fn owner_gone(row: &AccessTokenRow, standing: &latchkey_store::TokenStanding) -> bool {
    !row.subject.is_client(&row.client_id) && standing.username.is_none()
}
