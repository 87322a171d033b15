//! Group commit for SQLite's hot writes: the tokens, codes and rotations of the token and
//! authorization endpoints.
//!
//! SQLite has one writer at a time, and every transaction pays for its commit (WAL frames,
//! the wal-index, file locks) on top of sqlx's round trip to the connection's thread per
//! statement. So one task takes every such write waiting at the moment and runs them, each
//! as its own statement, in one transaction on its own connection: they share one commit,
//! its connection's page cache stays valid (no other connection of this process writes
//! these rows), and no writer sleeps in SQLite's busy handler waiting for another. A
//! write's caller is answered only after the commit, so a write it was told about is
//! durable like any other.
//!
//! A write that fails on a constraint is undone alone (SQLite undoes the statement; a
//! two-statement write runs inside its own savepoint) and the others commit. Any other
//! failure may have ended the transaction, so the whole group is rolled back and every
//! write in it fails, and the connection is replaced.

use std::sync::Arc;

use sqlx::error::ErrorKind;
use sqlx::sqlite::{SqliteArguments, SqliteConnectOptions, SqliteConnection, SqliteRow};
use sqlx::{ConnectOptions, Connection, Sqlite};
use tokio::sync::{RwLock, mpsc, oneshot};

use crate::StoreError;

/// A write: its statement(s) with their arguments bound.
pub(crate) type WriteQuery = sqlx::query::Query<'static, Sqlite, SqliteArguments>;

/// The most writes one transaction takes.
const MAX_GROUP: usize = 128;

enum Message {
    Write(Job),
    Close(oneshot::Sender<()>),
}

struct Job {
    query: WriteQuery,
    /// The query is `SAVEPOINT w; …; RELEASE w`: on a failed statement, roll back to it.
    in_savepoint: bool,
    reply: oneshot::Sender<Result<Vec<SqliteRow>, StoreError>>,
}

/// The handle to the writing task. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct GroupWriter {
    messages: mpsc::Sender<Message>,
}

/// The writing task has stopped: the store was closed, as its pools were.
fn closed() -> StoreError {
    StoreError::from(sqlx::Error::PoolClosed)
}

impl GroupWriter {
    /// Opens the writing connection and starts the task. `gate` is taken exclusively for
    /// each group, so that the other writer connections never meet its lock.
    pub(crate) async fn start(options: SqliteConnectOptions, gate: Arc<RwLock<()>>) -> Result<Self, StoreError> {
        let conn = options.connect().await?;
        let (messages, inbox) = mpsc::channel(4 * MAX_GROUP);
        tokio::spawn(run(conn, options, inbox, gate));
        Ok(GroupWriter { messages })
    }

    /// Runs `query` in the next group; the rows it returned, once committed.
    pub(crate) async fn write(&self, query: WriteQuery, in_savepoint: bool) -> Result<Vec<SqliteRow>, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.messages.send(Message::Write(Job { query, in_savepoint, reply })).await.map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }

    /// Finishes the writes already asked for and closes the connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.messages.send(Message::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

async fn run(
    mut conn: SqliteConnection,
    options: SqliteConnectOptions,
    mut inbox: mpsc::Receiver<Message>,
    gate: Arc<RwLock<()>>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while let Some(first) = inbox.recv().await {
        let mut close = None;
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Write(job) => group.push(job),
                Message::Close(done) => close = Some(done),
            }
            if close.is_none() && group.len() < MAX_GROUP {
                next = inbox.try_recv().ok();
            }
        }
        if !group.is_empty() {
            let healthy = {
                let _gate = gate.write().await;
                commit_group(&mut conn, &mut group).await
            };
            if !healthy {
                match options.connect().await {
                    Ok(fresh) => conn = fresh,
                    Err(e) => tracing::error!(error = %e, "cannot reopen the SQLite writing connection"),
                }
            }
        }
        if let Some(done) = close {
            inbox.close();
            while let Some(message) = inbox.recv().await {
                if let Message::Write(job) = message {
                    let _ = job.reply.send(Err(closed()));
                }
            }
            let _ = conn.close().await;
            let _ = done.send(());
            return;
        }
    }
}

/// A failure SQLite confines to the statement: the transaction goes on.
fn statement_only(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if matches!(db.kind(),
        ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation | ErrorKind::NotNullViolation | ErrorKind::CheckViolation))
}

/// Runs `group` in one transaction and answers each write. False when the connection's
/// state is no longer known (it is then replaced).
async fn commit_group(conn: &mut SqliteConnection, group: &mut Vec<Job>) -> bool {
    if let Err(e) = sqlx::query("BEGIN IMMEDIATE").execute(&mut *conn).await {
        // Nothing began (the lock was not to be had within the busy timeout).
        let e = StoreError::from(e);
        for job in group.drain(..) {
            let _ = job.reply.send(Err(e.clone()));
        }
        return true;
    }
    let mut answers = Vec::with_capacity(group.len());
    let mut failure = None;
    for job in group.drain(..) {
        if failure.is_some() {
            answers.push((job.reply, Ok(Vec::new())));
            continue;
        }
        match job.query.fetch_all(&mut *conn).await {
            Ok(rows) => answers.push((job.reply, Ok(rows))),
            Err(e) if statement_only(&e) => {
                if job.in_savepoint
                    && let Err(undo) = sqlx::query("ROLLBACK TO w; RELEASE w").execute(&mut *conn).await
                {
                    failure = Some(StoreError::from(undo));
                }
                answers.push((job.reply, Err(StoreError::from(e))));
            }
            Err(e) => {
                failure = Some(StoreError::from(e));
                answers.push((job.reply, Ok(Vec::new())));
            }
        }
    }
    let failure = match failure {
        None => match sqlx::query("COMMIT").execute(&mut *conn).await {
            Ok(_) => {
                for (reply, answer) in answers {
                    let _ = reply.send(answer);
                }
                return true;
            }
            Err(e) => StoreError::from(e),
        },
        Some(e) => e,
    };
    tracing::error!(error = %failure, writes = answers.len(), "a group of writes was rolled back");
    // Fails harmlessly when SQLite already rolled back.
    let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
    for (reply, _) in answers {
        let _ = reply.send(Err(failure.clone()));
    }
    false
}
