//! Registered clients (RFC 6749 §2, RFC 7591, RFC 7592).

use latchkey_protocol::Scope;
use latchkey_protocol::client::{Client, GrantType};
use latchkey_protocol::secret::SecretHash;

use crate::{Store, StoreError, on_pool, on_writer};

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    secret_hash: Option<Vec<u8>>,
    name: String,
    redirect_uris: String,
    grant_types: String,
    scopes: Option<String>,
    require_pkce: bool,
    created_at: i64,
    token_format: String,
    metadata: Option<String>,
    registered_dynamically: bool,
    may_introspect: bool,
}

impl ClientRow {
    fn into_client(self) -> Result<Client, StoreError> {
        let corrupt = |what: &str| StoreError::corrupt(format!("client {}: {what}", self.id));
        let secret_hash = match &self.secret_hash {
            Some(bytes) => Some(SecretHash::from_slice(bytes).ok_or_else(|| corrupt("secret_hash"))?),
            None => None,
        };
        let redirect_uris: Vec<String> =
            serde_json::from_str(&self.redirect_uris).map_err(|_| corrupt("redirect_uris"))?;
        let grant_names: Vec<String> = serde_json::from_str(&self.grant_types).map_err(|_| corrupt("grant_types"))?;
        let grant_types = grant_names
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<_, _>>()
            .map_err(|_| corrupt("grant_types"))?;
        let scopes = match &self.scopes {
            Some(s) => Some(Scope::parse(s).map_err(|_| corrupt("scopes"))?),
            None => None,
        };
        let token_format = self.token_format.parse().map_err(|_| corrupt("token_format"))?;
        let metadata = match &self.metadata {
            Some(m) => Some(serde_json::from_str(m).map_err(|_| corrupt("metadata"))?),
            None => None,
        };
        Ok(Client {
            id: self.id.into(),
            name: self.name,
            secret_hash,
            redirect_uris,
            grant_types,
            scopes,
            require_pkce: self.require_pkce,
            created_at: self.created_at,
            token_format,
            metadata,
            registered_dynamically: self.registered_dynamically,
            may_introspect: self.may_introspect,
        })
    }
}

/// The client `$1`.
const CLIENT_SQL: &str = "
    SELECT id, secret_hash, name, redirect_uris, grant_types, scopes, require_pkce, created_at, token_format, metadata,
        registration_token_hash IS NOT NULL AS registered_dynamically, may_introspect
    FROM clients WHERE id = $1";

/// Every client, with the columns of [`CLIENT_SQL`].
const CLIENTS_SQL: &str = "
    SELECT id, secret_hash, name, redirect_uris, grant_types, scopes, require_pkce, created_at, token_format, metadata,
        registration_token_hash IS NOT NULL AS registered_dynamically, may_introspect
    FROM clients ORDER BY name, id";

/// The column values of a client, encoded for storage.
struct Encoded {
    redirect_uris: String,
    grant_types: String,
    scopes: Option<String>,
    secret: Option<Vec<u8>>,
    metadata: Option<String>,
}

fn encode(c: &Client) -> Result<Encoded, StoreError> {
    let json = |v: serde_json::Result<String>| v.map_err(|e| StoreError::corrupt(e.to_string()));
    let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
    Ok(Encoded {
        redirect_uris: json(serde_json::to_string(&c.redirect_uris))?,
        grant_types: json(serde_json::to_string(&grants))?,
        scopes: c.scopes.as_ref().map(|s| s.to_string()),
        secret: c.secret_hash.as_ref().map(|h| h.as_bytes().to_vec()),
        metadata: c.metadata.as_ref().map(|m| json(serde_json::to_string(m))).transpose()?,
    })
}

impl Store {
    /// Registers a client. `Conflict` if the id is taken.
    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let e = encode(c)?;
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO clients (id, secret_hash, name, redirect_uris, grant_types, scopes, require_pkce, created_at, token_format, metadata, may_introspect)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
            .bind(c.id.as_str()).bind(&e.secret).bind(&c.name).bind(&e.redirect_uris).bind(&e.grant_types)
            .bind(&e.scopes).bind(c.require_pkce).bind(c.created_at).bind(c.token_format.as_str()).bind(&e.metadata)
            .bind(c.may_introspect)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Replaces a client's registration (RFC 7592 §2.2), keeping its id, secret and
    /// creation time. False if there is no such client.
    pub async fn update_client(&self, c: &Client) -> Result<bool, StoreError> {
        let e = encode(c)?;
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE clients SET name = $1, redirect_uris = $2, grant_types = $3, scopes = $4, require_pkce = $5, token_format = $6, metadata = $7
             WHERE id = $8")
            .bind(&c.name).bind(&e.redirect_uris).bind(&e.grant_types).bind(&e.scopes).bind(c.require_pkce)
            .bind(c.token_format.as_str()).bind(&e.metadata).bind(c.id.as_str())
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// The client with this id.
    pub async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let row: Option<ClientRow> = on_pool!(self, pool => sqlx::query_as(CLIENT_SQL)
            .bind(id).fetch_optional(pool).await)?;
        row.map(ClientRow::into_client).transpose()
    }

    /// Every client, by name.
    pub async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows: Vec<ClientRow> = on_pool!(self, pool => sqlx::query_as(CLIENTS_SQL).fetch_all(pool).await)?;
        rows.into_iter().map(ClientRow::into_client).collect()
    }

    /// Removes a client and everything issued to it. False if there was none.
    pub async fn delete_client(&self, id: &str) -> Result<bool, StoreError> {
        let done = on_writer!(self, pool => sqlx::query("DELETE FROM clients WHERE id = $1")
            .bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Replaces a confidential client's secret digest. False if there is no such client.
    pub async fn set_client_secret(&self, id: &str, hash: &SecretHash) -> Result<bool, StoreError> {
        let done = on_writer!(self, pool => sqlx::query(
            "UPDATE clients SET secret_hash = $1 WHERE id = $2 AND secret_hash IS NOT NULL")
            .bind(hash.as_bytes()).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Marks a client as a resource server that may introspect other clients' tokens
    /// (RFC 7662 §4), or unmarks it. False if there is no such client.
    pub async fn set_client_introspection(&self, id: &str, allowed: bool) -> Result<bool, StoreError> {
        let done = on_writer!(self, pool => sqlx::query("UPDATE clients SET may_introspect = $1 WHERE id = $2")
            .bind(allowed).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Sets the digest of a client's RFC 7592 registration access token.
    pub async fn set_registration_token(&self, id: &str, hash: &SecretHash) -> Result<bool, StoreError> {
        let done = on_writer!(self, pool => sqlx::query("UPDATE clients SET registration_token_hash = $1 WHERE id = $2")
            .bind(hash.as_bytes()).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// The digest of a client's registration access token, if it has one.
    pub async fn registration_token(&self, id: &str) -> Result<Option<SecretHash>, StoreError> {
        let row: Option<(Option<Vec<u8>>,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT registration_token_hash FROM clients WHERE id = $1")
            .bind(id).fetch_optional(pool).await)?;
        Ok(row.and_then(|(h,)| h).and_then(|h| SecretHash::from_slice(&h)))
    }
}
