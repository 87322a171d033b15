//! Registered clients (RFC 6749 §2).

use latchkey_protocol::Scope;
use latchkey_protocol::client::{Client, GrantType};
use latchkey_protocol::secret::SecretHash;

use crate::{Store, StoreError, on_pool};

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
}

impl ClientRow {
    fn into_client(self) -> Result<Client, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("client {}: {what}", self.id));
        let secret_hash = match &self.secret_hash {
            Some(bytes) => {
                Some(SecretHash::from_slice(bytes).ok_or_else(|| corrupt("secret_hash"))?)
            }
            None => None,
        };
        let redirect_uris: Vec<String> =
            serde_json::from_str(&self.redirect_uris).map_err(|_| corrupt("redirect_uris"))?;
        let grant_names: Vec<String> =
            serde_json::from_str(&self.grant_types).map_err(|_| corrupt("grant_types"))?;
        let grant_types = grant_names
            .iter()
            .map(|g| g.parse::<GrantType>())
            .collect::<Result<_, _>>()
            .map_err(|_| corrupt("grant_types"))?;
        let scopes = match &self.scopes {
            Some(s) => Some(Scope::parse(s).map_err(|_| corrupt("scopes"))?),
            None => None,
        };
        Ok(Client {
            id: self.id,
            name: self.name,
            secret_hash,
            redirect_uris,
            grant_types,
            scopes,
            require_pkce: self.require_pkce,
            created_at: self.created_at,
        })
    }
}

/// The client columns, with a tail (`WHERE …`, `ORDER BY …`), as one static string.
macro_rules! select {
    ($tail:literal) => {
        concat!("SELECT id, secret_hash, name, redirect_uris, grant_types, scopes, require_pkce, created_at FROM clients", $tail)
    };
}

impl Store {
    /// Registers a client. `Conflict` if the id is taken.
    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        let redirect_uris = serde_json::to_string(&c.redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let grants: Vec<&str> = c.grant_types.iter().map(|g| g.as_str()).collect();
        let grant_types =
            serde_json::to_string(&grants).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let scopes = c.scopes.as_ref().map(|s| s.to_string());
        let secret = c.secret_hash.as_ref().map(|h| h.as_bytes().to_vec());
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO clients (id, secret_hash, name, redirect_uris, grant_types, scopes, require_pkce, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&c.id).bind(&secret).bind(&c.name).bind(&redirect_uris).bind(&grant_types)
            .bind(&scopes).bind(c.require_pkce).bind(c.created_at)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The client with this id.
    pub async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        let row: Option<ClientRow> = on_pool!(self, pool => sqlx::query_as(select!(" WHERE id = $1")).bind(id).fetch_optional(pool).await)?;
        row.map(ClientRow::into_client).transpose()
    }

    /// Every client, by name.
    pub async fn clients(&self) -> Result<Vec<Client>, StoreError> {
        let rows: Vec<ClientRow> = on_pool!(self, pool => sqlx::query_as(select!(" ORDER BY name, id")).fetch_all(pool).await)?;
        rows.into_iter().map(ClientRow::into_client).collect()
    }

    /// Removes a client and everything issued to it. False if there was none.
    pub async fn delete_client(&self, id: &str) -> Result<bool, StoreError> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM clients WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }

    /// Replaces a confidential client's secret digest. False if there is no such client.
    pub async fn set_client_secret(&self, id: &str, hash: &SecretHash) -> Result<bool, StoreError> {
        let done = on_pool!(self, pool => sqlx::query("UPDATE clients SET secret_hash = $1 WHERE id = $2 AND secret_hash IS NOT NULL")
            .bind(hash.as_bytes()).bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(done > 0)
    }
}
