//! Installation-wide secrets, created once and shared by every instance.

use latchkey_protocol::UnixTime;

use crate::{Store, StoreError, on_pool, on_writer};

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
}
