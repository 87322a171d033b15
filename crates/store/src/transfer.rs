//! Moving an installation between databases (SQLite → PostgreSQL): a snapshot of
//! everything that must survive — clients, users, consents, signing keys and live refresh
//! tokens — and its import into an empty database.
//!
//! The snapshot holds only what the database holds: digests of secrets, never the
//! secrets; private keys as stored (encrypted when a key-encryption secret is set).

use latchkey_protocol::UnixTime;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, on_writer};

/// Format version of a snapshot.
pub const SNAPSHOT_VERSION: u32 = 1;

/// A client row as stored.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct ClientRecord {
    id: String,
    secret_hash: Option<Vec<u8>>,
    name: String,
    redirect_uris: String,
    grant_types: String,
    scopes: Option<String>,
    require_pkce: bool,
    created_at: i64,
    token_format: String,
    registration_token_hash: Option<Vec<u8>>,
    metadata: Option<String>,
    /// Absent in snapshots taken before resource servers were marked.
    #[serde(default)]
    may_introspect: bool,
}

/// A user row as stored.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct UserRecord {
    id: String,
    username: String,
    password_hash: String,
    created_at: i64,
}

/// A remembered consent.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct ConsentRecord {
    user_id: String,
    client_id: String,
    scope: String,
    granted_at: i64,
}

/// A signing key as stored.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct KeyRecord {
    kid: String,
    alg: String,
    private_der: Vec<u8>,
    created_at: i64,
    retired_at: Option<i64>,
    activates_at: i64,
    encrypted: bool,
}

/// A refresh token row as stored (by digest).
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct RefreshRecord {
    token_hash: Vec<u8>,
    family_id: String,
    client_id: String,
    user_id: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// Everything an installation needs to move.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_VERSION`].
    pub version: u32,
    /// When it was taken.
    pub taken_at: i64,
    /// Registered clients.
    pub clients: Vec<ClientRecord>,
    /// Users.
    pub users: Vec<UserRecord>,
    /// Remembered consents.
    pub consents: Vec<ConsentRecord>,
    /// Signing keys (retired ones too, while still published).
    pub signing_keys: Vec<KeyRecord>,
    /// Refresh tokens that have not expired (rotated and revoked ones too, so reuse
    /// detection keeps working).
    pub refresh_tokens: Vec<RefreshRecord>,
    /// Installation secrets (the refresh-successor key), so retries keep working.
    #[serde(default)]
    pub server_secrets: Vec<ServerSecretRecord>,
    /// Redeemed authorization codes whose record is still kept: with the code-sealing key
    /// among the installation secrets, a code issued before the move still opens after it,
    /// and must still be single-use.
    #[serde(default)]
    pub consumed_codes: Vec<ConsumedCodeRecord>,
}

/// The record of a redeemed authorization code.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct ConsumedCodeRecord {
    code_hash: Vec<u8>,
    family_id: Option<String>,
    expires_at: i64,
}

/// An installation secret as stored.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow)]
pub struct ServerSecretRecord {
    name: String,
    value: Vec<u8>,
    created_at: i64,
}

impl Store {
    /// Takes a snapshot of this database.
    pub async fn export(&self, now: UnixTime) -> Result<Snapshot, StoreError> {
        Ok(on_writer!(transaction self, pool => {
            let mut tx = pool.begin().await?;
            let clients = sqlx::query_as("SELECT id, secret_hash, name, redirect_uris, grant_types, scopes, require_pkce, created_at, token_format, registration_token_hash, metadata, may_introspect FROM clients ORDER BY id")
                .fetch_all(&mut *tx).await?;
            let users = sqlx::query_as("SELECT id, username, password_hash, created_at FROM users ORDER BY id").fetch_all(&mut *tx).await?;
            let consents = sqlx::query_as("SELECT user_id, client_id, scope, granted_at FROM consents ORDER BY user_id, client_id").fetch_all(&mut *tx).await?;
            let signing_keys = sqlx::query_as("SELECT kid, alg, private_der, created_at, retired_at, activates_at, encrypted FROM signing_keys ORDER BY created_at, kid")
                .fetch_all(&mut *tx).await?;
            let refresh_tokens = sqlx::query_as("SELECT token_hash, family_id, client_id, user_id, scope, created_at, expires_at, rotated_at, revoked_at FROM refresh_tokens WHERE expires_at > $1 ORDER BY family_id, created_at")
                .bind(now).fetch_all(&mut *tx).await?;
            let server_secrets = sqlx::query_as("SELECT name, value, created_at FROM server_secrets ORDER BY name").fetch_all(&mut *tx).await?;
            let consumed_codes = sqlx::query_as("SELECT code_hash, family_id, expires_at FROM consumed_codes WHERE expires_at > $1 ORDER BY code_hash")
                .bind(now).fetch_all(&mut *tx).await?;
            tx.commit().await?;
            Snapshot { version: SNAPSHOT_VERSION, taken_at: now, clients, users, consents, signing_keys, refresh_tokens, server_secrets, consumed_codes }
        }))
    }

    /// Loads a snapshot into this database, which must hold no clients, users or keys. All
    /// or nothing: one transaction.
    pub async fn import(&self, s: &Snapshot) -> Result<(), StoreError> {
        if s.version != SNAPSHOT_VERSION {
            return Err(StoreError::config(format!("snapshot version {} is not {SNAPSHOT_VERSION}", s.version)));
        }
        on_writer!(transaction self, pool => {
            let mut tx = pool.begin().await?;
            let (n,): (i64,) = sqlx::query_as(
                "SELECT (SELECT COUNT(*) FROM clients) + (SELECT COUNT(*) FROM users) + (SELECT COUNT(*) FROM signing_keys)")
                .fetch_one(&mut *tx).await?;
            if n > 0 {
                return Err(StoreError::config("the target database is not empty (it has clients, users or keys)"));
            }
            for c in &s.clients {
                sqlx::query("INSERT INTO clients (id, secret_hash, name, redirect_uris, grant_types, scopes, require_pkce, created_at, token_format, registration_token_hash, metadata, may_introspect) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                    .bind(&c.id).bind(&c.secret_hash).bind(&c.name).bind(&c.redirect_uris).bind(&c.grant_types).bind(&c.scopes)
                    .bind(c.require_pkce).bind(c.created_at).bind(&c.token_format).bind(&c.registration_token_hash).bind(&c.metadata)
                    .bind(c.may_introspect).execute(&mut *tx).await?;
            }
            for u in &s.users {
                sqlx::query("INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&u.id).bind(&u.username).bind(&u.password_hash).bind(u.created_at).execute(&mut *tx).await?;
            }
            for c in &s.consents {
                sqlx::query("INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)")
                    .bind(&c.user_id).bind(&c.client_id).bind(&c.scope).bind(c.granted_at).execute(&mut *tx).await?;
            }
            for k in &s.signing_keys {
                sqlx::query("INSERT INTO signing_keys (kid, alg, private_der, created_at, retired_at, activates_at, encrypted) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&k.kid).bind(&k.alg).bind(&k.private_der).bind(k.created_at).bind(k.retired_at).bind(k.activates_at).bind(k.encrypted)
                    .execute(&mut *tx).await?;
            }
            for r in &s.refresh_tokens {
                sqlx::query("INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at, rotated_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .bind(&r.token_hash).bind(&r.family_id).bind(&r.client_id).bind(&r.user_id).bind(&r.scope)
                    .bind(r.created_at).bind(r.expires_at).bind(r.rotated_at).bind(r.revoked_at)
                    .execute(&mut *tx).await?;
            }
            for s in &s.server_secrets {
                sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET value = excluded.value")
                    .bind(&s.name).bind(&s.value).bind(s.created_at).execute(&mut *tx).await?;
            }
            for c in &s.consumed_codes {
                sqlx::query("INSERT INTO consumed_codes (code_hash, family_id, expires_at) VALUES ($1, $2, $3) ON CONFLICT (code_hash) DO NOTHING")
                    .bind(&c.code_hash).bind(&c.family_id).bind(c.expires_at).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}
