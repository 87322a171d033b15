//! Storage for Latchkey: one [`Store`] over SQLite (embedded default) or PostgreSQL
//! (scale-out), chosen by the database URL.
//!
//! Every query is written once, in portable SQL (`$N` placeholders, `RETURNING`,
//! `ON CONFLICT`, unix-second integers), and runs on both backends through the
//! [`on_pool!`] macro, which type-checks the same body against each driver (the two
//! writes of two statements that must happen together are the exception: see
//! [`hot_write!`]). A statement is always written out whole, as a literal or a `const`
//! beside the method that runs it (`…_SQLITE` and `…_POSTGRES` where the two differ), so
//! its `$N` parameters are read in one place. Secrets are stored only as SHA-256 digests
//! ([`latchkey_protocol::secret::SecretHash`]); single use is one conditional
//! write (a rotated refresh token's `UPDATE … WHERE rotated_at IS NULL`, a redeemed code's
//! `INSERT … ON CONFLICT DO NOTHING`), atomic on one instance or ten.
//!
//! With the `conformance` feature, `conformance` holds the suite every backend must pass,
//! and `conformance_tests!` registers it as tests.
#![warn(missing_docs)]

mod access_tokens;
mod audit;
mod checkpoint;
mod clients;
mod codes;
#[cfg(feature = "conformance")]
pub mod conformance;
mod consents;
mod device_codes;
mod error;
mod group_commit;
mod housekeeping;
mod keys;
mod login_failures;
mod refresh;
mod registration_tokens;
mod server_secrets;
mod sessions;
mod transfer;
mod user_code_guesses;
mod users;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

pub use access_tokens::{AccessTokenRow, TokenStanding};
pub use audit::AuditEvent;
pub use device_codes::{DeviceCodeRow, NewDeviceCode};
pub use error::StoreError;
pub use housekeeping::{PurgeBefore, Purged};
pub use keys::SigningKeyRow;
pub use login_failures::{AttemptLimit, Reservation};
pub use refresh::{NewRefreshToken, StoredRefreshToken};
pub use server_secrets::{AtRest, Resealed};
pub use sessions::Session;
pub use transfer::{SNAPSHOT_VERSION, Snapshot};
pub use user_code_guesses::GuessCount;
pub use users::User;

/// The database behind a [`Store`].
#[derive(Clone, Debug)]
enum Backend {
    /// SQLite allows one writer at a time; a writer that finds the lock taken sleeps in
    /// SQLite's busy handler (milliseconds at a time). Writes go through the few
    /// connections of `write` (see [`SQLITE_WRITERS`]), so most writers queue in the pool
    /// instead; reads use `read` and run beside them (WAL). A transaction holds the lock
    /// across several round trips to its connection's thread, so it takes `gate`
    /// exclusively while single-statement writes share it, and so does each group of the
    /// hot writes, which go through `group` ([`group_commit`]): no writer of this process
    /// ever waits for another in the busy handler.
    Sqlite {
        read: SqlitePool,
        write: SqlitePool,
        gate: Arc<tokio::sync::RwLock<()>>,
        group: group_commit::GroupWriter,
        checkpointer: checkpoint::Checkpointer,
    },
    Postgres(PgPool),
}

/// Runs the same query body against whichever pool the store has. The body is compiled
/// once per backend, so a query that does not fit one of them fails to build.
macro_rules! on_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite { read: $pool, .. } => $body,
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// [`on_pool!`] for a body that writes: on SQLite it runs on a writer connection, sharing
/// the write gate; `on_writer!(transaction self, …)` takes the gate alone, for a body that
/// runs a transaction.
macro_rules! on_writer {
    ($store:expr, $pool:ident => $body:expr) => {
        $crate::on_writer!(@gate read, $store, $pool => $body)
    };
    (transaction $store:expr, $pool:ident => $body:expr) => {
        $crate::on_writer!(@gate write, $store, $pool => $body)
    };
    (@gate $mode:ident, $store:expr, $pool:ident => $body:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite { write: $pool, gate, .. } => {
                let _gate = gate.$mode().await;
                $body
            }
            $crate::Backend::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_writer;

/// A write of the token and authorization endpoints (tokens, codes, rotations). On SQLite
/// it joins the next group commit ([`group_commit`]); on PostgreSQL it runs on the pool.
/// `sql:` is one statement for both backends. A write of two statements that must happen
/// together is `sqlite_atomic:` `SAVEPOINT w; …; RELEASE w` for SQLite and `postgres:` the
/// same in one statement (a data-modifying `WITH`), both binding the same `$N` parameters.
/// The bindings (`bind`) must own their values. The value is the number of rows returned
/// (by the last statement's `RETURNING`), or with `rows: T` first, those rows as `T`s.
macro_rules! hot_write {
    ($store:expr, sql: $sql:expr, |$q:ident| $bind:expr) => {
        $crate::hot_write!(@run $store, $sql, false, $sql, |$q| $bind, |rows| Ok(rows.len()))
    };
    ($store:expr, sqlite_atomic: $sqlite:expr, postgres: $postgres:expr, |$q:ident| $bind:expr) => {
        $crate::hot_write!(@run $store, $sqlite, true, $postgres, |$q| $bind, |rows| Ok(rows.len()))
    };
    (rows: $row:ty, $store:expr, sqlite_atomic: $sqlite:expr, postgres: $postgres:expr, |$q:ident| $bind:expr) => {
        $crate::hot_write!(@run $store, $sqlite, true, $postgres, |$q| $bind, |rows| rows
            .iter()
            .map(|r| sqlx::FromRow::from_row(r).map_err($crate::StoreError::from))
            .collect::<Result<Vec<$row>, $crate::StoreError>>())
    };
    (@run $store:expr, $sqlite:expr, $savepoint:expr, $postgres:expr, |$q:ident| $bind:expr, |$rows:ident| $map:expr) => {
        match &$store.backend {
            $crate::Backend::Sqlite { group, .. } => {
                let $q = sqlx::query($sqlite);
                group.write($bind, $savepoint).await.and_then(|$rows| $map)
            }
            $crate::Backend::Postgres(pool) => {
                let $q = sqlx::query($postgres);
                $bind.fetch_all(pool).await.map_err($crate::StoreError::from).and_then(|$rows| $map)
            }
        }
    };
}
pub(crate) use hot_write;

/// SQLite writer connections. Measured with `bench/` (opaque tokens, 64 connections, 2
/// cores): 16 writers gave 4,500 tokens/s with p99 100 ms (busy-handler sleeps), 1 writer
/// 3,000/s with p99 40 ms (one write in flight), 4 writers 4,000/s with p99 26 ms.
const SQLITE_WRITERS: u32 = 4;

/// How long a PostgreSQL connection may sit idle before it is pinged on its next use.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// A snapshot of the connection pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open (idle and in use).
    pub open: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The pool's limit.
    pub max: u32,
}

/// Connection settings.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest number of pooled connections.
    pub max_connections: u32,
    /// How long a request waits for a connection before failing.
    pub acquire_timeout: Duration,
    /// Longest a statement may run (PostgreSQL `statement_timeout`).
    pub statement_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(10),
        }
    }
}

/// The Latchkey store. Cheap to clone (a pool handle).
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

impl Store {
    /// Opens (creating if absent) and migrates the database at `url`: `sqlite://FILE`,
    /// or `postgres://…`.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<Store, StoreError> {
        let backend = if url.starts_with("sqlite:") {
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config { what: format!("database URL: {e}"), source: Some(Arc::new(e)) })?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                // The checkpoints run beside the writers ([`checkpoint`]), not in their commits.
                .pragma("wal_autocheckpoint", "0");
            // An embedded connection cannot go stale: no ping on every acquire, which would
            // cost one more round trip to the connection's thread per statement.
            let write = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(SQLITE_WRITERS.min(options.max_connections))
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&write).await.map_err(StoreError::from)?;
            let read = SqlitePoolOptions::new()
                .test_before_acquire(false)
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect.clone())
                .await?;
            let gate = Arc::new(tokio::sync::RwLock::new(()));
            let checkpointer = checkpoint::Checkpointer::start(&connect, gate.clone()).await?;
            let group = group_commit::GroupWriter::start(connect, gate.clone()).await?;
            Backend::Sqlite { read, write, gate, group, checkpointer }
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let connect = PgConnectOptions::from_str(url)
                .map_err(|e| StoreError::Config { what: format!("database URL: {e}"), source: Some(Arc::new(e)) })?
                .options([("statement_timeout", options.statement_timeout.as_millis().to_string())]);
            // A connection is pinged before use only when it has been idle for a while (as
            // pgx does): under load, a ping per query would double the round trips.
            let pool = PgPoolOptions::new()
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if meta.idle_for > PING_WHEN_IDLE_FOR {
                            sqlx::Connection::ping(conn).await?;
                        }
                        Ok(true)
                    })
                })
                .max_connections(options.max_connections)
                .acquire_timeout(options.acquire_timeout)
                .connect_with(connect)
                .await?;
            // sqlx runs PostgreSQL migrations under an advisory lock: instances may start together.
            sqlx::migrate!("./migrations/postgres").run(&pool).await.map_err(StoreError::from)?;
            Backend::Postgres(pool)
        } else {
            return Err(StoreError::config(format!(
                "unsupported database URL `{url}`: use sqlite://FILE or postgres://…"
            )));
        };
        Ok(Store { backend })
    }

    /// Answers when the database answers (`/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The connection pool's state, for metrics.
    pub fn pool_stats(&self) -> PoolStats {
        fn stats<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> PoolStats {
            PoolStats {
                open: pool.size(),
                idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
                max: pool.options().get_max_connections(),
            }
        }
        match &self.backend {
            Backend::Sqlite { read, write, .. } => {
                let (r, w) = (stats(read), stats(write));
                PoolStats { open: r.open + w.open, idle: r.idle + w.idle, max: r.max + w.max }
            }
            Backend::Postgres(pool) => stats(pool),
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite { read, write, group, checkpointer, .. } => {
                group.close().await;
                checkpointer.close().await;
                read.close().await;
                write.close().await;
            }
            Backend::Postgres(pool) => pool.close().await,
        }
    }
}
