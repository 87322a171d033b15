//! Signing keys, kept in the store so every instance signs and publishes the same set.

use latchkey_protocol::UnixTime;

use crate::{Store, StoreError, on_pool, on_writer};

/// A stored signing key.
#[derive(Clone, sqlx::FromRow)]
pub struct SigningKeyRow {
    /// Key id (`kid`).
    pub kid: String,
    /// JOSE algorithm name: `ES256`, `EdDSA` or `RS256`.
    pub alg: String,
    /// PKCS#8 DER of the private key, encrypted when `encrypted` is true.
    pub private_der: Vec<u8>,
    /// When it was made.
    pub created_at: i64,
    /// When it stopped signing, if it did.
    pub retired_at: Option<i64>,
    /// When it may start signing (published in the JWKS before that).
    pub activates_at: i64,
    /// Whether `private_der` is encrypted with the key-encryption secret.
    pub encrypted: bool,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow").field("kid", &self.kid).field("alg", &self.alg).finish_non_exhaustive()
    }
}

impl Store {
    /// Stores a new key.
    pub async fn insert_signing_key(&self, k: &SigningKeyRow) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, created_at, retired_at, activates_at, encrypted) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&k.kid).bind(&k.alg).bind(&k.private_der).bind(k.created_at).bind(k.retired_at)
            .bind(k.activates_at).bind(k.encrypted)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Keys still published: not retired, or retired after `retired_after` (tokens they
    /// signed may still be live). The latest to activate first.
    pub async fn signing_keys(&self, retired_after: UnixTime) -> Result<Vec<SigningKeyRow>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT kid, alg, private_der, created_at, retired_at, activates_at, encrypted FROM signing_keys
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY activates_at DESC, created_at DESC, kid")
            .bind(retired_after).fetch_all(pool).await)?)
    }

    /// Every key, newest first (for `latchkey keys list`).
    pub async fn all_signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT kid, alg, private_der, created_at, retired_at, activates_at, encrypted FROM signing_keys ORDER BY created_at DESC, kid")
            .fetch_all(pool).await)?)
    }

    /// Retires a key: it stops signing at once. False if unknown, already retired, or the
    /// last key that signs at `now` (checked in the same write, so two retirements at
    /// once cannot leave no key to sign on one database connection's view of the table).
    pub async fn retire_signing_key(&self, kid: &str, now: UnixTime) -> Result<bool, StoreError> {
        const RETIRE: &str = "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL \
            AND EXISTS (SELECT 1 FROM signing_keys o \
                        WHERE o.kid <> $2 AND o.retired_at IS NULL AND o.activates_at <= $1)";
        let n = on_writer!(self, pool => sqlx::query(RETIRE)
            .bind(now).bind(kid).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
