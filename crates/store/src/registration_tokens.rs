//! Initial access tokens for dynamic client registration (RFC 7591 §3).

use latchkey_protocol::UnixTime;
use latchkey_protocol::secret::SecretHash;

use crate::{Store, StoreError, on_writer};

impl Store {
    /// Stores an initial access token: `uses` registrations (unlimited if `None`) until
    /// `expires_at` (never if `None`).
    pub async fn insert_registration_token(
        &self,
        hash: &SecretHash,
        uses: Option<i64>,
        expires_at: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO registration_tokens (token_hash, uses_left, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(hash.as_bytes()).bind(uses).bind(now).bind(expires_at)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Spends one use of an initial access token, atomically. False if it is unknown,
    /// expired or used up.
    pub async fn use_registration_token(&self, hash: &SecretHash, now: UnixTime) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE registration_tokens SET uses_left = uses_left - 1
             WHERE token_hash = $1 AND (uses_left IS NULL OR uses_left > 0) AND (expires_at IS NULL OR expires_at > $2)")
            .bind(hash.as_bytes()).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}
