//! Administration of clients (RFC 6749 §2) and users, used by the CLI.

use argon2::{Argon2, PasswordHasher};
use latchkey_protocol::client::{Client, ClientType, GrantType, TokenFormat};
use latchkey_protocol::redirect::RegisteredBy;
use latchkey_protocol::registration::{self, ClientRegistration};
use latchkey_protocol::secret::{ClientSecret, Password, SecretHash};
use latchkey_protocol::{ClientId, OAuthError, Scope};
use latchkey_store::{SigningKeyRow, StoreError, User};

use crate::audit::{Subject, kind};
use crate::{AuthServer, FlowError, secrets};

/// What an operator asks for when registering a client.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    /// Display name, shown on the consent page.
    pub name: String,
    /// Exact redirect URIs (required for the authorization code grant).
    pub redirect_uris: Vec<String>,
    /// A public client (native or browser app) gets no secret.
    pub public: bool,
    /// Scopes the client may ask for; empty means every scope the server offers.
    pub scopes: Vec<String>,
    /// Grants; empty means: code + refresh with redirect URIs, and client credentials
    /// for a confidential client.
    pub grant_types: Vec<GrantType>,
    /// Lets a confidential client skip PKCE (RFC 9700 §2.1.1 recommends it for all).
    pub allow_no_pkce: bool,
    /// The access token format it receives.
    pub token_format: TokenFormat,
    /// A resource server: may introspect tokens issued to other clients (RFC 7662 §4).
    pub may_introspect: bool,
}

/// A registered client and, for a confidential one, its secret: shown once, never stored.
#[derive(Debug)]
pub struct NewClientIssued {
    /// The registration.
    pub client: Client,
    /// The secret, for confidential clients.
    pub secret: Option<ClientSecret>,
}

/// A username: 1–64 characters, no spaces or control characters.
fn check_username(username: &str) -> Result<(), FlowError> {
    let ok = !username.is_empty()
        && username.chars().count() <= 64
        && !username.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok { Ok(()) } else { Err(FlowError::Admin("a username has 1 to 64 characters, without spaces".into())) }
}

fn check_password(password: &Password) -> Result<(), FlowError> {
    let n = password.expose().chars().count();
    if !(8..=1024).contains(&n) {
        return Err(FlowError::Admin("a password has at least 8 characters".into()));
    }
    Ok(())
}

impl AuthServer {
    /// Registers a client, generating its id and (for a confidential client) its secret.
    /// The rules are those of every registration ([`registration::check_client`]); the
    /// operator may also name `http://localhost` (RFC 8252 §8.3, [`RegisteredBy::Operator`]).
    pub async fn add_client(&self, req: NewClient) -> Result<NewClientIssued, FlowError> {
        let invalid = |e: OAuthError| FlowError::Admin(e.description.into_owned());
        let mut grant_types = req.grant_types.clone();
        if grant_types.is_empty() {
            if !req.redirect_uris.is_empty() {
                grant_types.extend([GrantType::AuthorizationCode, GrantType::RefreshToken]);
            }
            if !req.public {
                grant_types.push(GrantType::ClientCredentials);
            }
            if grant_types.is_empty() {
                return Err(FlowError::Admin(
                    "a public client needs --redirect-uri for the authorization code grant".into(),
                ));
            }
        }
        grant_types.sort();
        grant_types.dedup();
        let client_type = if req.public { ClientType::Public } else { ClientType::Confidential };
        let registration = ClientRegistration {
            client_name: Some(&req.name),
            redirect_uris: &req.redirect_uris,
            grant_types: &grant_types,
            client_type,
        };
        let name = registration::check_client(&registration, RegisteredBy::Operator).map_err(invalid)?;
        let scopes = if req.scopes.is_empty() {
            None
        } else {
            let asked = Scope::parse(&req.scopes.join(" ")).map_err(invalid)?;
            registration::check_requested_scope(&asked, &self.settings.scope_set()).map_err(invalid)?;
            Some(asked)
        };
        let secret = if req.public {
            None
        } else {
            Some(ClientSecret::new(secrets::new_secret(secrets::CLIENT_SECRET_PREFIX)?))
        };
        let client = Client {
            id: secrets::new_id()?.into(),
            name: name.unwrap_or_default(),
            secret_hash: secret.as_ref().map(ClientSecret::hash),
            redirect_uris: req.redirect_uris,
            grant_types,
            scopes,
            require_pkce: !req.allow_no_pkce,
            created_at: self.now(),
            token_format: req.token_format,
            metadata: None,
            registered_dynamically: false,
            may_introspect: req.may_introspect,
        };
        self.store.insert_client(&client).await?;
        Ok(NewClientIssued { client, secret })
    }

    /// Gives a confidential client a new secret; the old one stops working at once.
    pub async fn rotate_client_secret(&self, client_id: &str) -> Result<ClientSecret, FlowError> {
        let Some(client) = self.store.client(client_id).await? else {
            return Err(FlowError::Admin(format!("no client with id `{client_id}`")));
        };
        if client.client_type() == ClientType::Public {
            return Err(FlowError::Admin("a public client has no secret".into()));
        }
        let secret = ClientSecret::new(secrets::new_secret(secrets::CLIENT_SECRET_PREFIX)?);
        self.store.set_client_secret(client_id, &SecretHash::of(secret.expose())).await?;
        self.clients.forget(client_id);
        self.audit(
            kind::CLIENT_SECRET_ROTATED,
            Subject { actor: Some("cli"), client_id: Some(client_id), ..Subject::default() },
        )
        .await;
        Ok(secret)
    }

    /// Every registered client.
    pub async fn clients(&self) -> Result<Vec<Client>, FlowError> {
        Ok(self.store.clients().await?)
    }

    /// Deletes a client and everything issued to it.
    pub async fn delete_client(&self, client_id: &str) -> Result<(), FlowError> {
        if !self.remove_client(client_id, Some("cli")).await? {
            return Err(FlowError::Admin(format!("no client with id `{client_id}`")));
        }
        Ok(())
    }

    /// The one way a client goes: its row, and with it (the store cascades) its consents,
    /// refresh families and registration; then the cache forgets it and the trail records
    /// it. False if there was no such client.
    pub(crate) async fn remove_client(&self, client_id: &str, actor: Option<&str>) -> Result<bool, StoreError> {
        let deleted = self.store.delete_client(client_id).await?;
        self.clients.forget(client_id);
        if deleted {
            self.audit(kind::CLIENT_DELETED, Subject { actor, client_id: Some(client_id), ..Subject::default() }).await;
        }
        Ok(deleted)
    }

    /// Marks a client as a resource server that may introspect every token (RFC 7662 §4),
    /// or takes that away.
    pub async fn set_client_introspection(&self, client_id: &str, allowed: bool) -> Result<(), FlowError> {
        if !self.store.set_client_introspection(client_id, allowed).await? {
            return Err(FlowError::Admin(format!("no client with id `{client_id}`")));
        }
        self.clients.forget(client_id);
        Ok(())
    }

    /// Adds a user with an Argon2id password hash.
    pub async fn add_user(&self, username: &str, password: &Password) -> Result<User, FlowError> {
        check_username(username)?;
        check_password(password)?;
        let user = User {
            id: secrets::new_id()?.into(),
            username: username.to_owned(),
            password_hash: self.hash_password(password).await?,
            created_at: self.now(),
        };
        match self.store.insert_user(&user).await {
            Ok(()) => Ok(user),
            Err(StoreError::Conflict) => Err(FlowError::Admin(format!("user `{username}` exists already"))),
            Err(e) => Err(e.into()),
        }
    }

    /// Every user.
    pub async fn users(&self) -> Result<Vec<User>, FlowError> {
        Ok(self.store.users().await?)
    }

    /// Deletes a user and, with it (the store cascades), their sessions, consents and
    /// refresh families.
    pub async fn delete_user(&self, username: &str) -> Result<(), FlowError> {
        if !self.store.delete_user(username).await? {
            return Err(FlowError::Admin(format!("no user `{username}`")));
        }
        Ok(())
    }

    /// Sets a user's password. Whoever knew the old one may have made grants with it: the
    /// user's refresh families end (and with them the access tokens issued from them).
    pub async fn set_password(&self, username: &str, password: &Password) -> Result<(), FlowError> {
        check_password(password)?;
        let hash = self.hash_password(password).await?;
        let Some(user) = self.store.user_by_name(username).await? else {
            return Err(FlowError::Admin(format!("no user `{username}`")));
        };
        if !self.store.set_password_hash(username, &hash).await? {
            return Err(FlowError::Admin(format!("no user `{username}`")));
        }
        let revoked = self.store.revoke_user_families(&user.id, None, self.now()).await?;
        let detail = Some(format!("{revoked} refresh tokens revoked"));
        self.audit(kind::PASSWORD_CHANGED, Subject { actor: Some(username), detail, ..Subject::default() }).await;
        Ok(())
    }

    /// Argon2id (OWASP baseline parameters), on the blocking pool, a bounded number at once.
    pub(crate) async fn hash_password(&self, password: &Password) -> Result<String, FlowError> {
        let password = password.clone();
        self.hashing
            .run(move || {
                Argon2::default()
                    .hash_password(password.expose().as_bytes())
                    .map(|h| h.to_string())
                    .map_err(|e| FlowError::Crypto(e.to_string()))
            })
            .await?
    }
}

impl AuthServer {
    /// Every signing key, newest first, retired ones too.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, FlowError> {
        Ok(self.store.all_signing_keys().await?)
    }

    /// Adds a signing key (published now, signing after the overlap) and records it.
    pub async fn rotate_key(&self, alg: crate::KeyAlg) -> Result<String, FlowError> {
        let kid = self.keys.rotate(alg, self.now()).await?;
        let detail = Some(format!("key {kid} ({})", alg.as_str()));
        self.audit(kind::KEY_ROTATED, Subject { actor: Some("cli"), detail, ..Subject::default() }).await;
        Ok(kid)
    }

    /// Retires a signing key and records it.
    pub async fn retire_key(&self, kid: &str) -> Result<(), FlowError> {
        self.keys.retire(kid, self.now()).await?;
        self.audit(
            kind::KEY_RETIRED,
            Subject { actor: Some("cli"), detail: Some(format!("key {kid}")), ..Subject::default() },
        )
        .await;
        Ok(())
    }

    /// Withdraws a user's remembered consent for a client: the next authorization asks again.
    pub async fn revoke_consent(&self, username: &str, client_id: &str) -> Result<(), FlowError> {
        let Some(user) = self.store.user_by_name(username).await? else {
            return Err(FlowError::Admin(format!("no user `{username}`")));
        };
        let client = ClientId::from(client_id);
        if !self.store.delete_consent(&user.id, &client).await? {
            return Err(FlowError::Admin(format!("`{username}` has no consent for client `{client_id}`")));
        }
        // What the consent allowed ends with it: the client's refresh families for this
        // user, and the access tokens issued from them.
        let revoked = self.store.revoke_user_families(&user.id, Some(&client), self.now()).await?;
        let detail = Some(format!("{revoked} refresh tokens revoked"));
        self.audit(
            kind::CONSENT_REVOKED,
            Subject { actor: Some(username), client_id: Some(client_id), detail, ..Subject::default() },
        )
        .await;
        Ok(())
    }
}
