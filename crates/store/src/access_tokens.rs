//! Opaque access tokens (stored by digest) and individually revoked JWT access tokens
//! (stored by `jti` only), for introspection (RFC 7662) and revocation (RFC 7009).

use latchkey_protocol::UnixTime;
use latchkey_protocol::secret::SecretHash;

use crate::{Store, StoreError, on_pool, on_writer};

/// An access token the store knows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AccessTokenRow {
    /// Token identifier.
    pub jti: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The subject: a user id, or the client id for client credentials.
    pub subject: String,
    /// Granted scope.
    pub scope: String,
    /// The refresh-token family it came from, if any.
    pub family_id: Option<String>,
    /// Issued at.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
}

impl Store {
    /// Stores an opaque access token by digest.
    pub async fn insert_access_token(&self, hash: &SecretHash, t: &AccessTokenRow) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO access_tokens (jti, token_hash, client_id, subject, scope, family_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&t.jti).bind(hash.as_bytes()).bind(&t.client_id).bind(&t.subject).bind(&t.scope)
            .bind(&t.family_id).bind(t.created_at).bind(t.expires_at)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The opaque access token with this digest.
    pub async fn access_token(&self, hash: &SecretHash) -> Result<Option<AccessTokenRow>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT jti, client_id, subject, scope, family_id, created_at, expires_at, revoked_at FROM access_tokens WHERE token_hash = $1")
            .bind(hash.as_bytes()).fetch_optional(pool).await)?)
    }

    /// When the access token with this `jti` was revoked, if it was.
    pub async fn access_token_revoked_at(&self, jti: &str) -> Result<Option<UnixTime>, StoreError> {
        let row: Option<(Option<i64>,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT revoked_at FROM access_tokens WHERE jti = $1")
            .bind(jti).fetch_optional(pool).await)?;
        Ok(row.and_then(|(r,)| r))
    }

    /// Revokes an opaque access token by digest. True if it was live.
    pub async fn revoke_access_token(&self, hash: &SecretHash, now: UnixTime) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(now).bind(hash.as_bytes()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Records the revocation of a JWT access token (kept until it would have expired).
    pub async fn revoke_jwt(&self, t: &AccessTokenRow, now: UnixTime) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO access_tokens (jti, token_hash, client_id, subject, scope, family_id, created_at, expires_at, revoked_at)
             VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (jti) DO UPDATE SET revoked_at = excluded.revoked_at")
            .bind(&t.jti).bind(&t.client_id).bind(&t.subject).bind(&t.scope).bind(&t.family_id)
            .bind(t.created_at).bind(t.expires_at).bind(now)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Whether a refresh-token family has been revoked (RFC 7009 §2.1: then so are the
    /// access tokens issued from it).
    pub async fn family_revoked(&self, family_id: &str) -> Result<bool, StoreError> {
        let row: Option<(i64,)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT CAST(1 AS BIGINT) FROM refresh_tokens WHERE family_id = $1 AND revoked_at IS NOT NULL LIMIT 1")
            .bind(family_id).fetch_optional(pool).await)?;
        Ok(row.is_some())
    }
}
