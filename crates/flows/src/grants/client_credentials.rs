//! Client credentials grant, RFC 6749 §4.4.

use latchkey_protocol::client::{Client, ClientType};
use latchkey_protocol::token::TokenResponse;
use latchkey_protocol::{OAuthError, Subject};

use crate::{AuthServer, FlowError};

impl AuthServer {
    pub(crate) async fn client_credentials(
        &self,
        client: &Client,
        scope: Option<&str>,
    ) -> Result<TokenResponse, FlowError> {
        // §4.4: "The client credentials grant type MUST only be used by confidential clients."
        if client.client_type() == ClientType::Public {
            return Err(OAuthError::unauthorized_client("public clients cannot use client_credentials").into());
        }
        let scope = client.resolve_scope(scope, &self.settings.client_credentials_scopes(client))?;
        // RFC 9068 §2.2: for a client acting on its own behalf, `sub` is the client id.
        let (access_token, expires_in) = self.access_token(client, &Subject::client(&client.id), &scope, None).await?;
        // §4.4.3: "A refresh token SHOULD NOT be included."
        Ok(TokenResponse::bearer(access_token, expires_in, &scope, None))
    }
}
