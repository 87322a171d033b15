//! Storage failures. None of them carries a secret.

/// Why a store operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique value (username, client id) is taken.
    #[error("already exists")]
    Conflict,
    /// The database did not answer (connection refused, pool timeout, I/O).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be read back (a bug or a hand-edited row).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The database URL or an option is wrong.
    #[error("{0}")]
    Config(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(String),
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
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
            sqlx::Error::ColumnDecode { .. } | sqlx::Error::Decode(_) => StoreError::Corrupt(e.to_string()),
            _ => StoreError::Database(e.to_string()),
        }
    }
}
