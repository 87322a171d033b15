//! The token endpoint's use case, RFC 6749 §3.2: authenticate the client, then run its
//! grant; and the issuing of access and refresh tokens that every grant shares.

use std::sync::Arc;

use latchkey_protocol::client::{Client, GrantType, TokenFormat};
use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::jwt::AccessTokenClaims;
use latchkey_protocol::secret::{AccessToken, RefreshToken};
use latchkey_protocol::token::{RefreshGrant, TokenRequest, TokenResponse};
use latchkey_protocol::{FamilyId, Jti, OAuthError, Scope, Subject, UserId};
use latchkey_store::{AccessTokenRow, NewRefreshToken};

use crate::{AuthServer, FlowError, secrets};

/// Prefix of opaque access tokens.
pub const ACCESS_PREFIX: &str = "lka_";

/// The store's record of a JWT access token (for revocation and introspection), from its
/// claims.
pub(crate) fn jwt_row(claims: AccessTokenClaims) -> AccessTokenRow {
    AccessTokenRow {
        jti: claims.jti,
        client_id: claims.client_id,
        subject: claims.sub,
        scope: claims.scope,
        family_id: claims.gid,
        created_at: claims.iat,
        expires_at: claims.exp,
        revoked_at: None,
    }
}

impl AuthServer {
    /// Authenticates a client at the token, revocation or introspection endpoint
    /// (RFC 6749 §2.3, §3.2.1). An unknown client fails like a wrong secret.
    pub async fn authenticate_client(&self, creds: &ClientCredentials) -> Result<Arc<Client>, FlowError> {
        let Some(client) = self.client(creds.client_id()).await? else {
            return Err(OAuthError::invalid_client("client authentication failed").into());
        };
        client.authenticate(creds)?;
        Ok(client)
    }

    /// Exchanges a grant for tokens.
    pub async fn exchange(&self, creds: &ClientCredentials, request: TokenRequest) -> Result<TokenResponse, FlowError> {
        let client = self.authenticate_client(creds).await?;
        // §5.2 unauthorized_client: "not authorized to use this authorization grant type".
        let grant = request.grant_type();
        if !client.allows_grant(grant) {
            return Err(OAuthError::unauthorized_client(format!("this client may not use the {grant} grant")).into());
        }
        let response = match request {
            TokenRequest::AuthorizationCode { code, redirect_uri, code_verifier } => {
                self.redeem_code(&client, &code, redirect_uri.as_deref(), code_verifier.as_deref()).await
            }
            TokenRequest::RefreshToken { refresh_token, scope } => {
                self.refresh(&client, &refresh_token, scope.as_deref()).await
            }
            TokenRequest::ClientCredentials { scope } => self.client_credentials(&client, scope.as_deref()).await,
            TokenRequest::DeviceCode { device_code } => self.redeem_device_code(&client, &device_code).await,
        }?;
        metrics::counter!("latchkey_tokens_issued_total", "grant_type" => grant.as_str()).increment(1);
        Ok(response)
    }

    /// Issues an access token in the client's format: an RFC 9068 JWT, or an opaque token
    /// stored by digest. `family` ties it to the refresh-token family it comes from.
    /// Returns the token and its lifetime.
    pub(crate) async fn access_token(
        &self,
        client: &Client,
        subject: &Subject,
        scope: &Scope,
        family: Option<&FamilyId>,
    ) -> Result<(String, i64), FlowError> {
        let now = self.now();
        let ttl = self.settings.access_token_ttl;
        let jti = Jti::from(secrets::new_ordered_id()?);
        match client.token_format {
            TokenFormat::Jwt => {
                let claims = AccessTokenClaims {
                    iss: self.settings.issuer.clone(),
                    sub: subject.clone(),
                    aud: self.settings.audience.clone(),
                    client_id: client.id.clone(),
                    scope: scope.to_string(),
                    exp: now + ttl,
                    iat: now,
                    jti,
                    gid: family.cloned(),
                };
                Ok((self.keys.sign(&claims, now).await?, ttl))
            }
            TokenFormat::Opaque => {
                let token = AccessToken::new(secrets::new_stamped_secret(ACCESS_PREFIX, now)?);
                let row = AccessTokenRow {
                    jti,
                    client_id: client.id.clone(),
                    subject: subject.clone(),
                    scope: scope.to_string(),
                    family_id: family.cloned(),
                    created_at: now,
                    expires_at: now + ttl,
                    revoked_at: None,
                };
                self.store.insert_access_token(&token.hash(), &row).await?;
                Ok((token.expose().to_owned(), ttl))
            }
        }
    }

    /// A new refresh-token family for a user grant (code or device), when the client may
    /// refresh: the token to hand out and the row that stores it.
    pub(crate) fn new_refresh_family(
        &self,
        client: &Client,
        user_id: &UserId,
        scope: &Scope,
    ) -> Result<Option<(RefreshToken, NewRefreshToken)>, FlowError> {
        if !client.allows_grant(GrantType::RefreshToken) {
            return Ok(None);
        }
        let now = self.now();
        let token = RefreshToken::new(secrets::new_stamped_secret(secrets::REFRESH_PREFIX, now)?);
        let row = NewRefreshToken {
            hash: token.hash(),
            family_id: FamilyId::from(secrets::new_ordered_id()?),
            grant: RefreshGrant {
                client_id: client.id.clone(),
                user_id: user_id.clone(),
                scope: scope.clone(),
                expires_at: now + self.settings.refresh_token_ttl,
            },
            created_at: now,
        };
        Ok(Some((token, row)))
    }

    /// The answer to a user grant: an access token of family `family_id` (its `gid`), and
    /// the refresh token of `family` (already stored by the caller) when there is one.
    pub(crate) async fn user_tokens(
        &self,
        client: &Client,
        user_id: &UserId,
        scope: &Scope,
        family_id: Option<&FamilyId>,
        family: Option<(RefreshToken, NewRefreshToken)>,
    ) -> Result<TokenResponse, FlowError> {
        let (access_token, expires_in) = self.access_token(client, &Subject::user(user_id), scope, family_id).await?;
        Ok(TokenResponse::bearer(access_token, expires_in, scope, family.as_ref().map(|(token, _)| token)))
    }
}
