//! Housekeeping: expired codes, tokens, device codes and sessions, and audit events older
//! than the `audit_retention` setting, are deleted so tables do not grow without bound.

use std::time::Duration;

use latchkey_store::{PurgeBefore, Purged};

use crate::{AuthServer, FlowError};

/// Rows stay this long after they expire: a replayed code is still recognised (and the
/// tokens from it revoked, RFC 6749 §4.1.2) for an hour after its lifetime.
const KEEP_AFTER_EXPIRY: i64 = 3600;
/// Rows per delete statement, and statements per table per run.
const BATCH: i64 = 1000;
const MAX_BATCHES: u32 = 20;
/// Time between janitor runs that found nothing left behind (and before the first, and
/// after a failed one).
pub const JANITOR_PERIOD: Duration = Duration::from_secs(60);
/// A run that stopped at its limit is followed, after a rest this many times as long as it
/// ran (and at least [`MIN_REST`]), by another: the janitor keeps up with any rate of
/// expiry up to several hundred rows a second per table (a run of 20,000 rows from each of
/// three tables of a million-row SQLite store took 1.7 s), and takes at most a twentieth of
/// the database's time while it catches up.
const REST_PER_RUN: u32 = 19;
const MIN_REST: Duration = Duration::from_secs(1);

/// When the next janitor run should start, after `purged` that took `took`.
pub fn next_janitor_run(purged: &Purged, took: Duration) -> Duration {
    if purged.unfinished { (took * REST_PER_RUN).clamp(MIN_REST, JANITOR_PERIOD) } else { JANITOR_PERIOD }
}

impl AuthServer {
    /// One janitor run. On PostgreSQL only one instance runs it at a time.
    pub async fn housekeeping(&self) -> Result<Purged, FlowError> {
        let now = self.now();
        let before =
            PurgeBefore { expired_before: now - KEEP_AFTER_EXPIRY, audit_before: now - self.settings.audit_retention };
        let purged = self.store.purge_expired(before, BATCH, MAX_BATCHES).await?;
        if purged.total() > 0 {
            tracing::info!(deleted = purged.total(), "expired rows deleted");
        }
        Ok(purged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(unfinished: bool) -> Purged {
        Purged { rows: vec![("access_tokens", 20_000)], ran: true, unfinished }
    }

    #[test]
    fn the_janitor_catches_up_in_a_twentieth_of_the_time() {
        let ms = Duration::from_millis;
        assert_eq!(next_janitor_run(&run(false), ms(300)), JANITOR_PERIOD);
        assert_eq!(next_janitor_run(&run(true), ms(300)), ms(5700));
        assert_eq!(next_janitor_run(&run(true), ms(10)), MIN_REST);
        assert_eq!(next_janitor_run(&run(true), Duration::from_secs(30)), JANITOR_PERIOD);
        let elsewhere = Purged { rows: Vec::new(), ran: false, unfinished: false };
        assert_eq!(next_janitor_run(&elsewhere, ms(1)), JANITOR_PERIOD, "another instance holds the lock");
    }
}
