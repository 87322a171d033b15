//! Remembered consent: the scopes a user has approved for a client.

use latchkey_protocol::{ClientId, Scope, UnixTime, UserId};

use crate::{Store, StoreError, on_pool, on_writer};

impl Store {
    /// The scope the user has approved for the client so far.
    pub async fn consent(&self, user_id: &UserId, client_id: &ClientId) -> Result<Option<Scope>, StoreError> {
        let row: Option<(String,)> = on_pool!(self, pool => sqlx::query_as("SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id.as_str()).bind(client_id.as_str()).fetch_optional(pool).await)?;
        row.map(|(s,)| Scope::parse(&s).map_err(|_| StoreError::corrupt("consent scope"))).transpose()
    }

    /// Records approval of `scope`, widening what was approved before.
    pub async fn grant_consent(
        &self,
        user_id: &UserId,
        client_id: &ClientId,
        scope: &Scope,
        now: UnixTime,
    ) -> Result<(), StoreError> {
        let merged = match self.consent(user_id, client_id).await? {
            Some(old) => old.union(scope),
            None => scope.clone(),
        };
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at")
            .bind(user_id.as_str()).bind(client_id.as_str()).bind(merged.to_string()).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
