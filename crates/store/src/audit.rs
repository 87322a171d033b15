//! The audit trail: security events, stored and listed newest first.

use crate::{Store, StoreError, on_pool, on_writer};

/// One recorded event. Never holds a secret: usernames, client ids, key ids, addresses.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AuditEvent {
    /// Unique id (time-ordered).
    pub id: String,
    /// Unix time.
    pub at: i64,
    /// What happened (`login_failed`, `refresh_reuse_detected`, …).
    pub kind: String,
    /// Who did it (a username, or `cli`), if known.
    pub actor: Option<String>,
    /// The client concerned, if any.
    pub client_id: Option<String>,
    /// The client address, if known.
    pub address: Option<String>,
    /// More, in words.
    pub detail: Option<String>,
}

impl Store {
    /// Records an event.
    pub async fn insert_audit_event(&self, e: &AuditEvent) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO audit_events (id, at, kind, actor, client_id, address, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&e.id).bind(e.at).bind(&e.kind).bind(&e.actor).bind(&e.client_id).bind(&e.address).bind(&e.detail)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The latest `limit` events, of one kind or all, newest first.
    pub async fn audit_events(&self, kind: Option<&str>, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT id, at, kind, actor, client_id, address, detail FROM audit_events
             WHERE ($1 IS NULL OR kind = $1) ORDER BY at DESC, id DESC LIMIT $2")
            .bind(kind).bind(limit).fetch_all(pool).await)?)
    }

    /// Forgets a user's consent for a client. False if there was none.
    pub async fn delete_consent(&self, user_id: &str, client_id: &str) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id).bind(client_id).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
