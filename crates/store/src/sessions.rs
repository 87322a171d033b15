//! Login sessions, keyed by the digest of the cookie value.

use latchkey_protocol::UnixTime;
use latchkey_protocol::secret::SecretHash;

use crate::{Store, StoreError, User, on_pool, on_writer};

/// A live login session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The logged-in user.
    pub user_id: String,
    /// When the login happened.
    pub created_at: i64,
    /// When the session ends.
    pub expires_at: i64,
}

impl Store {
    /// Starts a session.
    pub async fn insert_session(&self, id: &SecretHash, s: &Session) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id.as_bytes()).bind(&s.user_id).bind(s.created_at).bind(s.expires_at).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The user of the session, if the session exists and has not expired at `now`: one
    /// query, as every authorization request asks it.
    pub async fn session_user(&self, id: &SecretHash, now: UnixTime) -> Result<Option<User>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT u.id, u.username, u.password_hash, u.created_at FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id_hash = $1 AND s.expires_at > $2")
            .bind(id.as_bytes()).bind(now).fetch_optional(pool).await)?)
    }

    /// Ends a session.
    pub async fn delete_session(&self, id: &SecretHash) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id.as_bytes()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
