//! The audit trail: security events, stored and listed newest first. Repeated events of
//! one kind (throttled logins) are counted in one row per aggregate key instead of a row
//! each; the janitor deletes events past the retention period ([`Store::purge_expired`]).

use latchkey_protocol::{ClientId, UserId};

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
    /// How many times it happened: 1, or more for an aggregated event (the first at `at`).
    pub count: i64,
}

impl Store {
    /// Records an event.
    pub async fn insert_audit_event(&self, e: &AuditEvent) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO audit_events (id, at, kind, actor, client_id, address, detail, count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(&e.id).bind(e.at).bind(&e.kind).bind(&e.actor).bind(&e.client_id).bind(&e.address).bind(&e.detail)
            .bind(e.count).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Counts an event under `aggregate_key`: the first one with that key is recorded as
    /// `e` (with a count of 1); each further one adds 1 to its count. One statement, so
    /// concurrent events on every instance are all counted.
    pub async fn count_audit_event(&self, e: &AuditEvent, aggregate_key: &str) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO audit_events (id, at, kind, actor, client_id, address, detail, count, aggregate_key)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)
             ON CONFLICT (aggregate_key) DO UPDATE SET count = audit_events.count + 1")
            .bind(&e.id).bind(e.at).bind(&e.kind).bind(&e.actor).bind(&e.client_id).bind(&e.address).bind(&e.detail)
            .bind(aggregate_key).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The latest `limit` events, of one kind or all, newest first.
    pub async fn audit_events(&self, kind: Option<&str>, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT id, at, kind, actor, client_id, address, detail, count FROM audit_events
             WHERE ($1 IS NULL OR kind = $1) ORDER BY at DESC, id DESC LIMIT $2")
            .bind(kind).bind(limit).fetch_all(pool).await)?)
    }

    /// Forgets a user's consent for a client. False if there was none.
    pub async fn delete_consent(&self, user_id: &UserId, client_id: &ClientId) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
            .bind(user_id.as_str()).bind(client_id.as_str()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
