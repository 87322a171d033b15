//! Login sessions, keyed by the digest of the cookie value.

use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{ClientId, Scope, UnixTime, UserId};

use crate::{Store, StoreError, User, on_pool, on_writer};

/// A live login session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The logged-in user.
    pub user_id: UserId,
    /// When the login happened.
    pub created_at: i64,
    /// When the session ends.
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct UserConsentRow {
    #[sqlx(flatten)]
    user: User,
    consent: Option<String>,
}

impl Store {
    /// Starts a session.
    pub async fn insert_session(&self, id: &SecretHash, s: &Session) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query("INSERT INTO sessions (id_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(id.as_bytes()).bind(s.user_id.as_str()).bind(s.created_at).bind(s.expires_at).execute(pool).await.map(|r| r.rows_affected()))?;
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

    /// The user of a live session and the scope that user has approved for `client_id` so
    /// far: one query, as every authorization request asks both.
    pub async fn session_user_consent(
        &self,
        id: &SecretHash,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<Option<(User, Option<Scope>)>, StoreError> {
        let row: Option<UserConsentRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT u.id, u.username, u.password_hash, u.created_at, c.scope AS consent
             FROM sessions s JOIN users u ON u.id = s.user_id
             LEFT JOIN consents c ON c.user_id = u.id AND c.client_id = $3
             WHERE s.id_hash = $1 AND s.expires_at > $2")
            .bind(id.as_bytes()).bind(now).bind(client_id.as_str()).fetch_optional(pool).await)?;
        let Some(r) = row else { return Ok(None) };
        let consent = r.consent.map(|s| Scope::parse(&s).map_err(|_| StoreError::corrupt("consent scope")));
        Ok(Some((r.user, consent.transpose()?)))
    }

    /// Ends a session.
    pub async fn delete_session(&self, id: &SecretHash) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id.as_bytes()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
