//! Dynamic client registration (RFC 7591) and its management protocol (RFC 7592).

use latchkey_protocol::client::{Client, GrantType, TokenFormat};
use latchkey_protocol::registration::{self, AuthMethod, ClientMetadata};
use latchkey_protocol::secret::{ClientSecret, RegistrationToken};
use latchkey_protocol::{ClientId, OAuthError, Scope};
use serde_json::{Value, json};

use crate::{AuthServer, FlowError, RegistrationPolicy, secrets};

/// Prefix of initial and registration access tokens.
pub const REGISTRATION_PREFIX: &str = "lkreg_";

/// Why a registration request failed.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// RFC 7591 §3.2.2: bad metadata (400).
    #[error(transparent)]
    Invalid(#[from] OAuthError),
    /// A missing or bad initial or registration access token (401, RFC 6750 `invalid_token`).
    #[error("invalid or missing access token")]
    Unauthorized,
    /// An outage.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<latchkey_store::StoreError> for RegisterError {
    fn from(e: latchkey_store::StoreError) -> Self {
        RegisterError::Flow(e.into())
    }
}

/// A new or read registration.
#[derive(Debug)]
pub struct Registered {
    /// The client.
    pub client: Client,
    /// Its secret, only when just issued.
    pub secret: Option<ClientSecret>,
    /// Its registration access token, only when just issued.
    pub registration_token: Option<RegistrationToken>,
}

impl AuthServer {
    /// Creates an initial access token for `RegistrationPolicy::Token`.
    pub async fn create_registration_token(
        &self,
        uses: Option<i64>,
        expires_in: Option<i64>,
    ) -> Result<RegistrationToken, FlowError> {
        let token = RegistrationToken::new(secrets::new_secret(REGISTRATION_PREFIX)?);
        let now = self.now();
        self.store.insert_registration_token(&token.hash(), uses, expires_in.map(|s| now + s), now).await?;
        Ok(token)
    }

    /// Turns validated metadata into a client. The scope is narrowed to what the operator
    /// lets self-registered clients have for the grants they registered (RFC 7591 §3.2.1:
    /// the server "MAY reject or replace any of the client's requested metadata values";
    /// the response says what was granted); nothing grantable is `invalid_client_metadata`.
    fn client_from(&self, id: ClientId, m: &ClientMetadata, created_at: i64) -> Result<Client, RegisterError> {
        let offered = self.settings.scope_set();
        if let Some(asked) = &m.scope {
            registration::check_requested_scope(asked, &offered)?;
        }
        let for_users = match &self.settings.registration_default_scopes {
            Some(list) => Scope::from_tokens(list.iter().cloned()),
            None => offered.clone(),
        };
        let for_itself = Scope::from_tokens(self.settings.registration_client_credentials_scopes.iter().cloned());
        let mut grantable = Scope::default();
        if m.grant_types.iter().any(|g| *g != GrantType::ClientCredentials) {
            grantable = grantable.union(&for_users);
        }
        if m.grant_types.contains(&GrantType::ClientCredentials) {
            grantable = grantable.union(&for_itself);
        }
        let scopes = match &m.scope {
            Some(asked) => asked.intersection(&grantable),
            None => grantable,
        };
        // RFC 6749 §3.3: a client with no scope could only get grants nobody approved.
        if scopes.is_empty() {
            return Err(OAuthError::invalid_client_metadata(
                "none of the requested scopes may be granted to a dynamically registered client",
            )
            .into());
        }
        let mut extra = m.extra.clone();
        extra.insert("token_endpoint_auth_method".into(), Value::from(m.token_endpoint_auth_method.as_str()));
        Ok(Client {
            id,
            name: m.client_name.clone().unwrap_or_else(|| "Unnamed application".into()),
            secret_hash: None,
            redirect_uris: m.redirect_uris.clone(),
            grant_types: m.grant_types.clone(),
            scopes: Some(scopes),
            require_pkce: true,
            created_at,
            token_format: TokenFormat::Jwt,
            metadata: Some(extra),
            registered_dynamically: true,
            may_introspect: false,
        })
    }

    /// RFC 7591 §3: registers a client under the configured policy.
    pub async fn register(&self, initial_token: Option<&str>, body: &Value) -> Result<Registered, RegisterError> {
        let now = self.now();
        if self.settings.registration == RegistrationPolicy::Off {
            return Err(RegisterError::Unauthorized);
        }
        if self.settings.registration == RegistrationPolicy::Token && initial_token.is_none() {
            return Err(RegisterError::Unauthorized);
        }
        let metadata = ClientMetadata::parse(body)?;
        let mut client = self.client_from(secrets::new_id()?.into(), &metadata, now)?;
        // An initial access token is spent only on a registration that will succeed: a
        // request with bad metadata changes nothing (RFC 7591 §3.2.2).
        if let (RegistrationPolicy::Token, Some(token)) = (self.settings.registration, initial_token)
            && !self.store.use_registration_token(&RegistrationToken::new(token).hash(), now).await?
        {
            return Err(RegisterError::Unauthorized);
        }
        let secret = match metadata.token_endpoint_auth_method {
            AuthMethod::None => None,
            _ => Some(ClientSecret::new(secrets::new_secret(secrets::CLIENT_SECRET_PREFIX)?)),
        };
        client.secret_hash = secret.as_ref().map(ClientSecret::hash);
        let registration_token = RegistrationToken::new(secrets::new_secret(REGISTRATION_PREFIX)?);
        self.store.insert_client(&client).await?;
        self.store.set_registration_token(client.id.as_str(), &registration_token.hash()).await?;
        tracing::info!(client_id = %client.id, "client registered dynamically");
        let detail = Some(format!("name {}", client.name));
        self.audit(
            crate::audit::kind::CLIENT_REGISTERED,
            crate::audit::Subject { client_id: Some(client.id.as_str()), detail, ..Default::default() },
        )
        .await;
        Ok(Registered { client, secret, registration_token: Some(registration_token) })
    }

    /// RFC 7592 §2: the client whose registration access token this is.
    async fn registered_client(&self, client_id: &str, token: Option<&str>) -> Result<Client, RegisterError> {
        let (Some(token), Some(stored)) = (token, self.store.registration_token(client_id).await?) else {
            return Err(RegisterError::Unauthorized);
        };
        if !stored.ct_eq(&RegistrationToken::new(token).hash()) {
            return Err(RegisterError::Unauthorized);
        }
        self.store.client(client_id).await?.ok_or(RegisterError::Unauthorized)
    }

    /// RFC 7592 §2.1: reads a registration.
    pub async fn registration(&self, client_id: &str, token: Option<&str>) -> Result<Client, RegisterError> {
        self.registered_client(client_id, token).await
    }

    /// RFC 7592 §2.2: replaces a registration. The body must name the client; a secret, if
    /// sent, must be the current one; the client type cannot change.
    pub async fn update_registration(
        &self,
        client_id: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Client, RegisterError> {
        let current = self.registered_client(client_id, token).await?;
        if body.get("client_id").and_then(Value::as_str) != Some(client_id) {
            return Err(OAuthError::invalid_client_metadata("the body's client_id must be this client's").into());
        }
        if let Some(secret) = body.get("client_secret").and_then(Value::as_str) {
            let ok = current.secret_hash.as_ref().is_some_and(|h| h.ct_eq(&ClientSecret::new(secret).hash()));
            if !ok {
                return Err(OAuthError::invalid_client_metadata("client_secret does not match").into());
            }
        }
        let metadata = ClientMetadata::parse(body)?;
        if (metadata.token_endpoint_auth_method == AuthMethod::None) != current.secret_hash.is_none() {
            return Err(
                OAuthError::invalid_client_metadata("a client cannot change between public and confidential").into()
            );
        }
        let mut client = self.client_from(current.id.clone(), &metadata, current.created_at)?;
        client.secret_hash = current.secret_hash;
        client.token_format = current.token_format;
        self.store.update_client(&client).await?;
        self.clients.forget(client.id.as_str());
        Ok(client)
    }

    /// RFC 7592 §2.3: deletes a registration and everything issued to it.
    pub async fn delete_registration(&self, client_id: &str, token: Option<&str>) -> Result<(), RegisterError> {
        let client = self.registered_client(client_id, token).await?;
        self.remove_client(client.id.as_str(), None).await?;
        Ok(())
    }

    /// The JSON of a registration (RFC 7591 §3.2.1), with the one-time values when given.
    pub fn registration_json(&self, r: &Registered, registration_client_uri: &str) -> Value {
        let c = &r.client;
        let mut out = serde_json::Map::new();
        if let Some(extra) = &c.metadata {
            out.extend(extra.clone());
        }
        let has_code = c.grant_types.contains(&latchkey_protocol::client::GrantType::AuthorizationCode);
        let fields = json!({
            "client_id": c.id,
            "client_id_issued_at": c.created_at,
            "client_name": c.name,
            "redirect_uris": c.redirect_uris,
            "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "response_types": if has_code { vec!["code"] } else { vec![] },
            "scope": c.scopes.as_ref().map(|s| s.to_string()).unwrap_or_default(),
            "registration_client_uri": registration_client_uri,
        });
        if let Value::Object(f) = fields {
            out.extend(f);
        }
        if let Some(s) = &r.secret {
            out.insert("client_secret".into(), Value::from(s.expose()));
            // §3.2.1: 0 means the secret does not expire.
            out.insert("client_secret_expires_at".into(), Value::from(0));
        }
        if let Some(t) = &r.registration_token {
            out.insert("registration_access_token".into(), Value::from(t.expose()));
        }
        Value::Object(out)
    }
}
