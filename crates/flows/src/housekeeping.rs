//! Housekeeping: expired codes, tokens, device codes and sessions are deleted so tables do
//! not grow without bound.

use latchkey_store::Purged;

use crate::{AuthServer, FlowError};

/// Rows stay this long after they expire: a replayed code is still recognised (and the
/// tokens from it revoked, RFC 6749 §4.1.2) for an hour after its lifetime.
const KEEP_AFTER_EXPIRY: i64 = 3600;
/// Rows per delete statement, and statements per table per run.
const BATCH: i64 = 1000;
const MAX_BATCHES: u32 = 20;

impl AuthServer {
    /// One janitor run. On PostgreSQL only one instance runs it at a time.
    pub async fn housekeeping(&self) -> Result<Purged, FlowError> {
        let purged = self.store.purge_expired(self.now() - KEEP_AFTER_EXPIRY, BATCH, MAX_BATCHES).await?;
        if purged.total() > 0 {
            tracing::info!(deleted = purged.total(), "expired rows deleted");
        }
        Ok(purged)
    }
}
