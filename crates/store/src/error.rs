//! Storage failures. None of them carries a secret.
//!
//! A failure of the database keeps the driver's error as its
//! [`source`](std::error::Error::source), an `Arc<sqlx::Error>` (downcast to that): one
//! failed group commit fails every write of the group with the same error. The messages
//! are those of before the sources were kept, so a log line that prints only the error
//! still says what the driver said.

use std::sync::Arc;

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique value (username, client id) is taken.
    #[error("already exists")]
    Conflict,
    /// The database did not answer (connection refused, pool timeout, I/O), or the store
    /// was closed.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] Arc<sqlx::Error>),
    /// A stored value could not be read back (a bug or a hand-edited row): `what`, and the
    /// driver's decoding error when it was the driver that could not read it.
    #[error("corrupt stored value: {what}")]
    Corrupt {
        /// What could not be read.
        what: String,
        /// The driver's error, if any.
        #[source]
        source: Option<Arc<sqlx::Error>>,
    },
    /// The database URL or an option is wrong: `what`, and the driver's error when it was
    /// the driver that refused it.
    #[error("{what}")]
    Config {
        /// What is wrong.
        what: String,
        /// The driver's error, if any.
        #[source]
        source: Option<Arc<sqlx::Error>>,
    },
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[source] Arc<sqlx::migrate::MigrateError>),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] Arc<sqlx::Error>),
}

impl StoreError {
    /// A stored value the store itself could not make sense of.
    pub(crate) fn corrupt(what: impl Into<String>) -> StoreError {
        StoreError::Corrupt { what: what.into(), source: None }
    }

    /// A wrong URL or option found by the store itself.
    pub(crate) fn config(what: impl Into<String>) -> StoreError {
        StoreError::Config { what: what.into(), source: None }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            // The database cannot be reached or the connection broke (a protocol error here
            // is a connection cut mid-handshake, as a proxy without a backend does).
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(Arc::new(e)),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => {
                StoreError::Corrupt { what: e.to_string(), source: Some(Arc::new(e)) }
            }
            _ => StoreError::Database(Arc::new(e)),
        }
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        StoreError::Migration(Arc::new(e))
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;

    fn driver_source(e: &StoreError) -> Option<&sqlx::Error> {
        e.source()?.downcast_ref::<Arc<sqlx::Error>>().map(|a| &**a)
    }

    /// The driver's error stays reachable as the source, so an outage is logged with its
    /// cause chain, and the message reads as before.
    #[test]
    fn a_driver_error_is_kept_as_the_source() {
        let e = StoreError::from(sqlx::Error::PoolTimedOut);
        assert!(matches!(e, StoreError::Unavailable(_)), "{e:?}");
        assert!(matches!(driver_source(&e), Some(sqlx::Error::PoolTimedOut)));
        assert_eq!(e.to_string(), "database unavailable: pool timed out while waiting for an open connection");

        let e = StoreError::from(sqlx::Error::RowNotFound);
        assert!(matches!(e, StoreError::Database(_)), "{e:?}");
        assert!(matches!(driver_source(&e), Some(sqlx::Error::RowNotFound)));

        let e = StoreError::from(sqlx::Error::Decode("bad".into()));
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e:?}");
        assert!(matches!(driver_source(&e), Some(sqlx::Error::Decode(_))));
        assert_eq!(e.to_string(), "corrupt stored value: error occurred while decoding: bad");

        // One failure handed to every writer of a group commit is the same error.
        let shared = StoreError::from(sqlx::Error::WorkerCrashed);
        let (StoreError::Unavailable(a), StoreError::Unavailable(b)) = (&shared, &shared.clone()) else {
            unreachable!("{shared:?}")
        };
        assert!(Arc::ptr_eq(a, b));

        assert!(StoreError::corrupt("refresh scope").source().is_none());
    }
}
