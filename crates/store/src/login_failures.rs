//! Failed-login counters (per account and address, per address, per account) in fixed
//! windows, shared by every instance.
//!
//! An attempt is *reserved* before its password is checked: one conditional write counts
//! it and says whether it is within the limit, so parallel attempts on any number of
//! instances can never get more passwords checked than the limit allows. A successful
//! login gives its reservation back.

use latchkey_protocol::UnixTime;

use crate::{Store, StoreError, on_pool, on_writer};

/// How a counter limits attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptLimit {
    /// At most this many attempts per window; past it, none until the window ends.
    Hard(i64),
    /// `free` attempts per window at once; from the `free`-th on, each attempt makes the
    /// next one wait 2, 4, 8, … seconds, at most `max_delay`. Never refuses for longer.
    Delay {
        /// Attempts without delay.
        free: i64,
        /// The longest wait, seconds (at least 2).
        max_delay: i64,
    },
}

/// The answer to a reservation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt is counted (the `count`-th of its window) and may go ahead. Its window
    /// ends at `window_ends`, which also names it for [`Store::release_login_attempt`].
    Reserved {
        /// Attempts counted in the window, this one included.
        count: i64,
        /// When the window ends.
        window_ends: UnixTime,
    },
    /// Over the limit: nothing was counted; try again at `retry_at`.
    Refused {
        /// The earliest time an attempt may be let through.
        retry_at: UnixTime,
    },
}

/// A hard limit: counts the attempt unless the window is full; a new window once the last
/// one ended.
const RESERVE_HARD: &str = "INSERT INTO login_failures (key, window_start, failures, expires_at) VALUES ($1, $2, 1, $3)
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN login_failures.expires_at <= $2 THEN 1 ELSE login_failures.failures + 1 END,
       window_start = CASE WHEN login_failures.expires_at <= $2 THEN $2 ELSE login_failures.window_start END,
       expires_at = CASE WHEN login_failures.expires_at <= $2 THEN $3 ELSE login_failures.expires_at END
     WHERE login_failures.expires_at <= $2 OR login_failures.failures < $4
     RETURNING failures, expires_at";

/// A delay: counts the attempt unless it comes before `not_before`, and sets the next
/// `not_before`. The `n`-th attempt of a window (`n = failures + 1`) makes the next one wait
/// 0 s while `n < $4` (free), then `2^(n - $4 + 1)` s, `$5` (max_delay) from exponent `$6`
/// on. `$7` is the wait after a window's first attempt.
const RESERVE_DELAY: &str = "INSERT INTO login_failures (key, window_start, failures, expires_at, not_before)
     VALUES ($1, $2, 1, $3, $2 + $7)
     ON CONFLICT (key) DO UPDATE SET
       failures = CASE WHEN login_failures.expires_at <= $2 THEN 1 ELSE login_failures.failures + 1 END,
       window_start = CASE WHEN login_failures.expires_at <= $2 THEN $2 ELSE login_failures.window_start END,
       expires_at = CASE WHEN login_failures.expires_at <= $2 THEN $3 ELSE login_failures.expires_at END,
       not_before = $2 + CASE
         WHEN login_failures.expires_at <= $2 THEN $7
         WHEN login_failures.failures + 1 < $4 THEN 0
         WHEN login_failures.failures + 2 - $4 >= $6 THEN $5
         ELSE 1 << CAST(login_failures.failures + 2 - $4 AS INTEGER) END
     WHERE login_failures.expires_at <= $2 OR login_failures.not_before <= $2
     RETURNING failures, expires_at";

impl Store {
    /// Failures counted for `key` in its current window, and when that window ends.
    pub async fn login_failures(&self, key: &str, now: UnixTime) -> Result<Option<(i64, UnixTime)>, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(
            "SELECT failures, expires_at FROM login_failures WHERE key = $1 AND expires_at > $2")
            .bind(key).bind(now).fetch_optional(pool).await)?)
    }

    /// Reserves a login attempt under `key`: counts it and lets it go ahead if `limit`
    /// allows, in one conditional write, so concurrent attempts on every instance are
    /// counted exactly. A window of `window` seconds starts with the first attempt after
    /// the last one ended.
    pub async fn reserve_login_attempt(
        &self,
        key: &str,
        now: UnixTime,
        window: i64,
        limit: AttemptLimit,
    ) -> Result<Reservation, StoreError> {
        let row: Option<(i64, UnixTime)> = match limit {
            AttemptLimit::Hard(max) => on_writer!(self, pool => sqlx::query_as(RESERVE_HARD)
                .bind(key).bind(now).bind(now + window).bind(max).fetch_optional(pool).await)?,
            AttemptLimit::Delay { free, max_delay } => {
                let max_delay = max_delay.max(2);
                // The exponent from which 2^e reaches the longest wait.
                let cap_exp = (1..62).find(|e| 1i64 << e >= max_delay).unwrap_or(62);
                let first = if free <= 1 { 2.min(max_delay) } else { 0 };
                on_writer!(self, pool => sqlx::query_as(RESERVE_DELAY)
                    .bind(key).bind(now).bind(now + window).bind(free).bind(max_delay).bind(cap_exp).bind(first)
                    .fetch_optional(pool).await)?
            }
        };
        if let Some((count, window_ends)) = row {
            return Ok(Reservation::Reserved { count, window_ends });
        }
        let refused: Option<(UnixTime, UnixTime)> = on_pool!(self, pool => sqlx::query_as(
            "SELECT expires_at, not_before FROM login_failures WHERE key = $1")
            .bind(key).fetch_optional(pool).await)?;
        let retry_at = match (limit, refused) {
            (AttemptLimit::Hard(_), Some((ends, _))) => ends,
            (AttemptLimit::Delay { .. }, Some((ends, not_before))) => ends.min(not_before),
            // Purged in between: the window has ended.
            (_, None) => now,
        };
        Ok(Reservation::Refused { retry_at: retry_at.max(now + 1) })
    }

    /// Gives back a reservation of the window ending at `window_ends` (an attempt that
    /// succeeded, or was stopped before its password was checked). A new window since
    /// then is left alone.
    pub async fn release_login_attempt(&self, key: &str, window_ends: UnixTime) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "UPDATE login_failures SET failures = failures - 1 WHERE key = $1 AND expires_at = $2 AND failures > 0")
            .bind(key).bind(window_ends).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
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
