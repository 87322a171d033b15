//! SQLite's WAL checkpoints, off the writers' path.
//!
//! In WAL mode every commit appends its pages to the write-ahead log, and a checkpoint
//! copies the log's pages back into the database file and syncs both files. By default the
//! connection whose commit makes the log pass 1,000 pages runs that checkpoint itself,
//! before its commit returns: with group commit ([`crate::group_commit`]), every write of
//! that group, and every write queued behind it, waits for the copy and the syncs (with
//! those checkpoints off, as a test, refresh p99 went from 28–34 to 15–19 ms:
//! `bench/README.md`).
//!
//! Here no connection checkpoints on commit (`wal_autocheckpoint = 0`, set in
//! [`crate::Store::connect`]). A task with its own connection runs a passive checkpoint
//! every [`INTERVAL`] instead: it copies the pages committed so far while the writers go on
//! appending. A log that has been copied to its end is started over by the next writer,
//! but under steady writes a pass that runs beside them never reaches the end. So once the
//! log is [`RESTART_AT`] pages long, the task takes the write gate, which holds off this
//! process's writers, and copies the pages appended during its last pass: the next write
//! starts the log over, and the log stays bounded.
//!
//! That last copy is short, but like every checkpoint it syncs both files, which took
//! 10–20 ms under load on the benchmark's machine (a store of a million rows): the writers
//! wait for it once per [`RESTART_AT`] pages instead of once per 1,000.

use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{RwLock, mpsc, oneshot};
use tokio::time::MissedTickBehavior;

use crate::StoreError;

/// How often the log is copied into the database file.
const INTERVAL: Duration = Duration::from_millis(100);

/// The log's length, in pages, at which the task holds the writers off to finish the copy
/// and start the log over: about 40 MB of 4 KiB pages (SQLite's own automatic checkpoint
/// starts at 1,000 pages).
const RESTART_AT: i64 = 10_000;

/// The handle to the checkpointing task. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Checkpointer {
    stop: mpsc::Sender<oneshot::Sender<()>>,
}

impl Checkpointer {
    /// Opens the task's connection and starts it. `gate` is the writers' gate: taken
    /// exclusively, no writer of this process is inside a transaction.
    pub(crate) async fn start(options: &SqliteConnectOptions, gate: Arc<RwLock<()>>) -> Result<Self, StoreError> {
        Self::start_restarting_at(options, gate, RESTART_AT).await
    }

    async fn start_restarting_at(
        options: &SqliteConnectOptions,
        gate: Arc<RwLock<()>>,
        restart_at: i64,
    ) -> Result<Self, StoreError> {
        let conn = options.connect().await?;
        let (stop, stopped) = mpsc::channel(1);
        tokio::spawn(run(conn, gate, stopped, restart_at));
        Ok(Checkpointer { stop })
    }

    /// Stops the task and closes its connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.stop.send(done).await.is_ok() {
            let _ = closed.await;
        }
    }
}

async fn run(
    mut conn: SqliteConnection,
    gate: Arc<RwLock<()>>,
    mut stop: mpsc::Receiver<oneshot::Sender<()>>,
    restart_at: i64,
) {
    let mut tick = tokio::time::interval(INTERVAL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            done = stop.recv() => {
                let _ = conn.close().await;
                if let Some(done) = done {
                    let _ = done.send(());
                }
                return;
            }
            _ = tick.tick() => {}
        }
        let outcome = match passive(&mut conn).await {
            Ok(log) if log >= restart_at => {
                let _gate = gate.write().await;
                passive(&mut conn).await
            }
            other => other,
        };
        // Reported once when checkpoints start failing (the log then grows) and once when
        // they work again, not every pass.
        match outcome {
            Err(e) if !failing => {
                failing = true;
                tracing::error!(error = %e, "SQLite WAL checkpoints are failing; the log grows until they work again");
            }
            Ok(_) if failing => {
                failing = false;
                tracing::info!("SQLite WAL checkpoints work again");
            }
            _ => {}
        }
    }
}

/// Copies the log's committed pages that no reader still needs from it into the database
/// file, without waiting for any lock. The log's length in pages (-1 when the database is
/// not in WAL mode).
async fn passive(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    let (_busy, log, _copied): (i64, i64, i64) =
        sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(conn).await?;
    Ok(log)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::time::Instant;

    use sqlx::sqlite::SqliteJournalMode;

    use super::*;

    /// Under writes that never pause, the log is still started over: it stays a fraction
    /// of what went through it. Without the checkpoints (`wal_autocheckpoint = 0`) it would
    /// hold every page written.
    #[tokio::test]
    async fn the_log_stays_bounded_under_steady_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.db");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .pragma("wal_autocheckpoint", "0");
        let mut writer = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE t (v BLOB)").execute(&mut writer).await.unwrap();
        let gate = Arc::new(RwLock::new(()));
        let checkpointer = Checkpointer::start_restarting_at(&options, gate.clone(), 200).await.unwrap();
        let (mut written, mut largest) = (0u64, 0u64);
        let started = Instant::now();
        // Written until 16 MB went through (at least ten intervals): enough for several
        // start-overs however slowly a busy machine schedules the checkpointer, and far
        // more than the log holds when they happen.
        while written < 16_000_000 || started.elapsed() < 10 * INTERVAL {
            assert!(started.elapsed() < Duration::from_secs(120), "too slow to tell: {written} bytes written");
            let _writing = gate.read().await;
            sqlx::query("INSERT INTO t VALUES (zeroblob(8000))").execute(&mut writer).await.unwrap();
            written += 8000;
            largest = largest.max(std::fs::metadata(path.with_extension("db-wal")).unwrap().len());
        }
        checkpointer.close().await;
        assert!(largest < written / 3, "the log grew to {largest} bytes of {written} written");
    }
}
