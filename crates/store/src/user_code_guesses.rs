//! Device user codes tried (RFC 8628 §5.1), counted per key in fixed windows and shared by
//! every instance, so that a limit on guessing holds across a cluster.

use latchkey_protocol::UnixTime;

use crate::{Store, StoreError, on_writer};

/// What [`Store::count_user_code_guess`] counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuessCount {
    /// Guesses counted in the current window, this one included.
    pub guesses: i64,
    /// False once more than the limit have been counted: the code must not be looked up.
    pub within_limit: bool,
    /// When the current window ends.
    pub window_ends: UnixTime,
}

impl Store {
    /// Counts one guess for `key` *before* its code is looked up, starting a new window of
    /// `window` seconds when the last one has ended, and tells whether it is within
    /// `limit`. One conditional write: concurrent guesses on several instances all count,
    /// and none of them can pass a check made before another one counted. A guess that
    /// turns out right is taken back with [`Store::forgive_user_code_guess`].
    pub async fn count_user_code_guess(
        &self,
        key: &str,
        now: UnixTime,
        window: i64,
        limit: i64,
    ) -> Result<GuessCount, StoreError> {
        let (guesses, window_ends): (i64, i64) = on_writer!(self, pool => sqlx::query_as(
            "INSERT INTO user_code_guesses (key, guesses, expires_at) VALUES ($1, 1, $3)
             ON CONFLICT (key) DO UPDATE SET
               guesses = CASE WHEN user_code_guesses.expires_at <= $2 THEN 1 ELSE user_code_guesses.guesses + 1 END,
               expires_at = CASE WHEN user_code_guesses.expires_at <= $2 THEN $3 ELSE user_code_guesses.expires_at END
             RETURNING guesses, expires_at")
            .bind(key).bind(now).bind(now + window).fetch_one(pool).await)?;
        Ok(GuessCount { guesses, within_limit: guesses <= limit, window_ends })
    }

    /// Takes back one guess of `key` in its current window (the code was right).
    pub async fn forgive_user_code_guess(&self, key: &str, now: UnixTime) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "UPDATE user_code_guesses SET guesses = guesses - 1 WHERE key = $1 AND guesses > 0 AND expires_at > $2")
            .bind(key).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
