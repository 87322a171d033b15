//! Signing keys, kept in the store so every instance signs and publishes the same set.

use crate::{Store, StoreError, on_pool};

/// A stored signing key.
#[derive(Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    /// Key id (`kid`).
    pub kid: String,
    /// JOSE algorithm name (`ES256`).
    pub alg: String,
    /// PKCS#8 DER of the private key.
    pub private_der: Vec<u8>,
    /// When it was made.
    pub created_at: i64,
    /// When it stopped signing, if it did.
    pub retired_at: Option<i64>,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Stores a new key.
    pub async fn insert_signing_key(&self, k: &SigningKeyRow) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("INSERT INTO signing_keys (kid, alg, private_der, created_at, retired_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(&k.kid).bind(&k.alg).bind(&k.private_der).bind(k.created_at).bind(k.retired_at).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Every key not yet retired, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT kid, alg, private_der, created_at, retired_at FROM signing_keys WHERE retired_at IS NULL ORDER BY created_at DESC, kid")
            .fetch_all(pool).await)?)
    }
}
