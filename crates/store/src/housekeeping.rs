//! Housekeeping: expired rows, and audit events past their retention, are deleted in
//! bounded batches, by one instance at a time.

use latchkey_protocol::UnixTime;

use crate::{Backend, Store, StoreError};

/// The advisory-lock key of the janitor on PostgreSQL ("lk-janitor").
const JANITOR_LOCK: i64 = 0x6c6b_6a61_6e69_746f;

/// Which time a purge deletes rows before.
#[derive(Clone, Copy)]
enum Cutoff {
    /// Rows that expired before the run's `expired_before`.
    Expired,
    /// Audit events recorded before the run's `audit_before`.
    Audit,
}

/// Each table's purge: one batch of at most `$2` rows whose time is before `$1`, selected
/// by primary key. The same statements on both backends.
const PURGES: [(&str, &str, Cutoff); 10] = [
    (
        "login_failures",
        "DELETE FROM login_failures WHERE key IN (SELECT key FROM login_failures WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "user_code_guesses",
        "DELETE FROM user_code_guesses WHERE key IN (SELECT key FROM user_code_guesses WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "consumed_codes",
        "DELETE FROM consumed_codes WHERE code_hash IN (SELECT code_hash FROM consumed_codes WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "refresh_tokens",
        "DELETE FROM refresh_tokens WHERE token_hash IN (SELECT token_hash FROM refresh_tokens WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "access_tokens",
        "DELETE FROM access_tokens WHERE jti IN (SELECT jti FROM access_tokens WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "device_codes",
        "DELETE FROM device_codes WHERE device_code_hash IN (SELECT device_code_hash FROM device_codes WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "sessions",
        "DELETE FROM sessions WHERE id_hash IN (SELECT id_hash FROM sessions WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "registration_tokens",
        "DELETE FROM registration_tokens WHERE token_hash IN (SELECT token_hash FROM registration_tokens WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "revoked_families",
        "DELETE FROM revoked_families WHERE family_id IN (SELECT family_id FROM revoked_families WHERE expires_at < $1 LIMIT $2)",
        Cutoff::Expired,
    ),
    (
        "audit_events",
        "DELETE FROM audit_events WHERE id IN (SELECT id FROM audit_events WHERE at < $1 LIMIT $2)",
        Cutoff::Audit,
    ),
];

/// What one janitor run removed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Purged {
    /// Rows deleted per table.
    pub rows: Vec<(&'static str, u64)>,
    /// False when another instance held the janitor lock, so this run did nothing.
    pub ran: bool,
    /// True when the run stopped at its limit with expired rows left behind.
    pub unfinished: bool,
}

impl Purged {
    /// Rows deleted in all.
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }
}

/// Runs every purge on one connection (the same body for both backends). `$hold` is taken
/// for each statement: on SQLite the write gate, so that a long run lets the hot writes in
/// between its batches.
macro_rules! purge_on {
    ($conn:expr, $cutoffs:expr, $batch:expr, $max:expr, $hold:expr) => {{
        let (mut rows, mut unfinished) = (Vec::new(), false);
        for (table, sql, cutoff) in PURGES {
            let before = match cutoff {
                Cutoff::Expired => $cutoffs.expired_before,
                Cutoff::Audit => $cutoffs.audit_before,
            };
            let mut total = 0u64;
            for batch in 1..=$max {
                let n = {
                    let _held = $hold;
                    sqlx::query(sql).bind(before).bind($batch).execute(&mut *$conn).await?.rows_affected()
                };
                total += n;
                if n < $batch as u64 {
                    break;
                }
                unfinished |= batch == $max;
            }
            rows.push((table, total));
        }
        Ok::<Purged, StoreError>(Purged { rows, ran: true, unfinished })
    }};
}

/// What a janitor run deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeBefore {
    /// Rows with an expiry that ended before this time.
    pub expired_before: UnixTime,
    /// Audit events recorded before this time.
    pub audit_before: UnixTime,
}

impl Store {
    /// Deletes rows that expired before `before.expired_before` and audit events recorded
    /// before `before.audit_before`, at most `batch` per statement and at most
    /// `max_batches` statements per table, so a run never holds the database for long. On
    /// PostgreSQL it runs only if it gets the janitor's advisory lock (one instance at a time).
    pub async fn purge_expired(&self, before: PurgeBefore, batch: i64, max_batches: u32) -> Result<Purged, StoreError> {
        match &self.backend {
            Backend::Sqlite { write: pool, gate, .. } => {
                let mut conn = pool.acquire().await?;
                purge_on!(conn, before, batch, max_batches, gate.read().await)
            }
            Backend::Postgres(pool) => {
                let mut conn = pool.acquire().await?;
                let (locked,): (bool,) =
                    sqlx::query_as("SELECT pg_try_advisory_lock($1)").bind(JANITOR_LOCK).fetch_one(&mut *conn).await?;
                if !locked {
                    return Ok(Purged { rows: Vec::new(), ran: false, unfinished: false });
                }
                let result = async { purge_on!(conn, before, batch, max_batches, ()) }.await;
                let unlocked =
                    sqlx::query("SELECT pg_advisory_unlock($1)").bind(JANITOR_LOCK).execute(&mut *conn).await;
                if result.is_err() || unlocked.is_err() {
                    // Never return a connection that may still hold the lock: closing the
                    // session releases it.
                    drop(conn.detach());
                }
                result
            }
        }
    }
}
