//! Failed-login counters (per account, per client address) in fixed windows, shared by
//! every instance.

use latchkey_protocol::UnixTime;

use crate::{Store, StoreError, on_pool, on_writer};

impl Store {
    /// Failures counted for `key` in its current window, and when that window ends.
    pub async fn login_failures(&self, key: &str, now: UnixTime) -> Result<Option<(i64, UnixTime)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT failures, expires_at FROM login_failures WHERE key = $1 AND expires_at > $2")
            .bind(key).bind(now).fetch_optional(pool).await)?)
    }

    /// Counts one failure for `key`, starting a new window of `window` seconds when the
    /// last one has ended. One statement: concurrent failures on several instances all count.
    pub async fn record_login_failure(&self, key: &str, now: UnixTime, window: i64) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO login_failures (key, window_start, failures, expires_at) VALUES ($1, $2, 1, $3)
             ON CONFLICT (key) DO UPDATE SET
               failures = CASE WHEN login_failures.expires_at <= $2 THEN 1 ELSE login_failures.failures + 1 END,
               window_start = CASE WHEN login_failures.expires_at <= $2 THEN $2 ELSE login_failures.window_start END,
               expires_at = CASE WHEN login_failures.expires_at <= $2 THEN $3 ELSE login_failures.expires_at END")
            .bind(key).bind(now).bind(now + window).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forgets the failures of `key` (after a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query("DELETE FROM login_failures WHERE key = $1")
            .bind(key).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
