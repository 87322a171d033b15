//! Installation-wide secrets, created once and shared by every instance, and the rewriting
//! of every secret at rest (these and the signing keys' private parts) in one transaction.

use latchkey_protocol::UnixTime;

use crate::{Backend, Store, StoreError, on_pool, on_writer};

/// The advisory-lock key of [`Store::reseal_at_rest`] on PostgreSQL ("lk-resea").
const RESEAL_LOCK: i64 = 0x6c6b_2d72_6573_6561;

/// One secret at rest, as [`Store::reseal_at_rest`] hands it over.
#[derive(Clone, Copy)]
pub enum AtRest<'a> {
    /// A row of `server_secrets`, in the stored form its users chose.
    ServerSecret {
        /// Its name.
        name: &'a str,
        /// Its stored value.
        value: &'a [u8],
    },
    /// A signing key's private part.
    SigningKey {
        /// Key id.
        kid: &'a str,
        /// PKCS#8 DER, encrypted when `encrypted` is true.
        private_der: &'a [u8],
        /// Whether `private_der` is encrypted.
        encrypted: bool,
    },
}

impl std::fmt::Debug for AtRest<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AtRest::ServerSecret { name, .. } => {
                f.debug_struct("ServerSecret").field("name", name).finish_non_exhaustive()
            }
            AtRest::SigningKey { kid, encrypted, .. } => {
                f.debug_struct("SigningKey").field("kid", kid).field("encrypted", encrypted).finish_non_exhaustive()
            }
        }
    }
}

/// The new stored form of a secret.
pub struct Resealed {
    /// The value to store.
    pub value: Vec<u8>,
    /// Whether it is encrypted (kept with signing keys; server secrets mark it themselves).
    pub encrypted: bool,
}

impl std::fmt::Debug for Resealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resealed").field("encrypted", &self.encrypted).finish_non_exhaustive()
    }
}

/// Hands every secret at rest to `$reseal` and stores what it returns, inside the open
/// transaction `$tx` (the same body for both backends).
macro_rules! reseal_in {
    ($tx:ident, $reseal:ident) => {{
        let secrets: Vec<(String, Vec<u8>)> = sqlx::query_as("SELECT name, value FROM server_secrets ORDER BY name")
            .fetch_all(&mut *$tx)
            .await
            .map_err(StoreError::from)?;
        let keys: Vec<(String, Vec<u8>, bool)> =
            sqlx::query_as("SELECT kid, private_der, encrypted FROM signing_keys ORDER BY kid")
                .fetch_all(&mut *$tx)
                .await
                .map_err(StoreError::from)?;
        let mut changed = 0usize;
        for (name, value) in &secrets {
            if let Some(new) = $reseal(AtRest::ServerSecret { name, value })? {
                let done = sqlx::query("UPDATE server_secrets SET value = $1 WHERE name = $2 AND value = $3")
                    .bind(&new.value)
                    .bind(name)
                    .bind(value)
                    .execute(&mut *$tx)
                    .await
                    .map_err(StoreError::from)?;
                changed += usize::try_from(done.rows_affected()).unwrap_or(0);
            }
        }
        for (kid, private_der, encrypted) in &keys {
            if let Some(new) = $reseal(AtRest::SigningKey { kid, private_der, encrypted: *encrypted })? {
                let done = sqlx::query(
                    "UPDATE signing_keys SET private_der = $1, encrypted = $2 WHERE kid = $3 AND private_der = $4",
                )
                .bind(&new.value)
                .bind(new.encrypted)
                .bind(kid)
                .bind(private_der)
                .execute(&mut *$tx)
                .await
                .map_err(StoreError::from)?;
                changed += usize::try_from(done.rows_affected()).unwrap_or(0);
            }
        }
        $tx.commit().await.map_err(StoreError::from)?;
        Ok(changed)
    }};
}

impl Store {
    /// The secret called `name`; when there is none yet, `candidate` becomes it. Every
    /// instance gets the same value, whichever created it first.
    pub async fn server_secret(&self, name: &str, candidate: &[u8], now: UnixTime) -> Result<Vec<u8>, StoreError> {
        let existing: Option<(Vec<u8>,)> = on_pool!(self, pool => sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name).fetch_optional(pool).await)?;
        if let Some((value,)) = existing {
            return Ok(value);
        }
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name).bind(candidate).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        let (value,): (Vec<u8>,) = on_pool!(self, pool => sqlx::query_as("SELECT value FROM server_secrets WHERE name = $1")
            .bind(name).fetch_one(pool).await)?;
        Ok(value)
    }

    /// Rewrites secrets at rest, all or nothing: every row of `server_secrets` and every
    /// signing key's private part goes through `reseal`, which returns its new stored form
    /// (or `None` to leave it); the first error undoes every change. One transaction, taken
    /// alone (`BEGIN IMMEDIATE` on SQLite; on PostgreSQL behind an advisory lock, so two
    /// instances starting at once take turns, and the second sees what the first wrote).
    /// A row is only rewritten while it still holds the value `reseal` saw. Returns the
    /// number of rows rewritten.
    pub async fn reseal_at_rest<E: From<StoreError>>(
        &self,
        mut reseal: impl FnMut(AtRest<'_>) -> Result<Option<Resealed>, E> + Send,
    ) -> Result<usize, E> {
        match &self.backend {
            Backend::Sqlite { write: pool, gate, .. } => {
                let _gate = gate.write().await;
                let mut conn = pool.acquire().await.map_err(StoreError::from)?;
                // The old values must not linger in the file: freed space is zeroed
                // (`secure_delete`), and the write-ahead log, which still holds the pages
                // as they were, is copied back and emptied.
                let (was_on,): (bool,) =
                    sqlx::query_as("PRAGMA secure_delete").fetch_one(&mut *conn).await.map_err(StoreError::from)?;
                sqlx::query("PRAGMA secure_delete = ON").execute(&mut *conn).await.map_err(StoreError::from)?;
                let result = async {
                    let mut tx =
                        sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE").await.map_err(StoreError::from)?;
                    reseal_in!(tx, reseal)
                }
                .await;
                if matches!(result, Ok(n) if n > 0) {
                    // The rewrite is committed: a checkpoint that fails or cannot copy
                    // everything (a reader holds old pages) must not report it undone.
                    let checkpoint: Result<(i64, i64, i64), _> =
                        sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&mut *conn).await;
                    if !matches!(checkpoint, Ok((0, _, _))) {
                        tracing::warn!(
                            ?checkpoint,
                            "secrets were rewritten, but the write-ahead log was not emptied: \
                             old values stay in the -wal file until the next checkpoint"
                        );
                    }
                }
                let restore = if was_on { "PRAGMA secure_delete = ON" } else { "PRAGMA secure_delete = OFF" };
                if sqlx::query(restore).execute(&mut *conn).await.is_err() {
                    drop(conn.detach());
                }
                result
            }
            Backend::Postgres(pool) => {
                let mut tx = pool.begin().await.map_err(StoreError::from)?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(RESEAL_LOCK)
                    .execute(&mut *tx)
                    .await
                    .map_err(StoreError::from)?;
                reseal_in!(tx, reseal)
            }
        }
    }
}
