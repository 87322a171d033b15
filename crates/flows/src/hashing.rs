//! Password hashing (Argon2id) on a small pool of dedicated threads, behind a bounded queue.
//!
//! Argon2id with the default parameters takes 19 MiB and tens of milliseconds of one
//! core per hash. Running it on the async workers would stall every other request;
//! running it on tokio's blocking pool spreads it over many threads, and the allocator
//! keeps a 19 MiB block resident for each thread that ever hashed (hundreds of MiB under
//! a login flood). A fixed pool of half the cores bounds both: token issuance keeps the
//! other half, and memory grows by at most 19 MiB per hashing thread.
//!
//! The queue in front of the threads is bounded too (by default [`QUEUE_PER_THREAD`] jobs
//! per thread): past it a job is refused at once ([`HashingError::Busy`]) instead of
//! waiting behind minutes of work, and a job whose caller has gone (the request was
//! cancelled) is dropped unrun when its turn comes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use crate::{AuthServer, FlowError};

type Job = Box<dyn FnOnce() + Send>;

/// Jobs that may wait per hashing thread, by default: with Argon2id's ≈50 ms a hash, a
/// login waits at most about half a second for its turn.
pub const QUEUE_PER_THREAD: usize = 8;

/// Why a job did not run.
#[derive(Debug, thiserror::Error)]
pub enum HashingError {
    /// The queue is full; nothing was queued.
    #[error("the password hashing queue is full")]
    Busy,
    /// The pool failed (a stopped pool, a panicking job).
    #[error(transparent)]
    Failed(#[from] FlowError),
}

impl From<HashingError> for FlowError {
    fn from(e: HashingError) -> Self {
        match e {
            HashingError::Busy => FlowError::Crypto("the password hashing queue is full".into()),
            HashingError::Failed(e) => e,
        }
    }
}

/// A handle to the hashing threads; they end when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct HashingPool {
    jobs: mpsc::Sender<Job>,
    /// Jobs queued and not yet taken by a thread.
    waiting: Arc<AtomicUsize>,
    capacity: usize,
    /// How many threads there are (to hold them all in tests).
    #[cfg(any(test, feature = "test-hooks"))]
    threads: usize,
}

/// The default number of hashing threads: half the cores, at least one.
pub(crate) fn default_threads() -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
    (cores / 2).max(1)
}

impl HashingPool {
    /// Starts [`default_threads`] threads, with room for `queue` waiting jobs
    /// ([`QUEUE_PER_THREAD`] per thread when `None`).
    pub(crate) fn start(queue: Option<usize>) -> Result<HashingPool, FlowError> {
        let threads = default_threads();
        HashingPool::with_threads(threads, queue.unwrap_or(threads * QUEUE_PER_THREAD))
    }

    /// Starts `threads` threads with room for `capacity` waiting jobs.
    pub(crate) fn with_threads(threads: usize, capacity: usize) -> Result<HashingPool, FlowError> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let waiting = Arc::new(AtomicUsize::new(0));
        for i in 0..threads.max(1) {
            let (queue, waiting) = (queue.clone(), waiting.clone());
            std::thread::Builder::new()
                .name(format!("latchkey-hash-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while taking a job, not while running it.
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(poisoned) => poisoned.into_inner().recv(),
                        };
                        match job {
                            // A panicking job drops its result sender (the caller sees an
                            // error); the thread lives on.
                            Ok(job) => {
                                waiting.fetch_sub(1, Ordering::SeqCst);
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return, // every handle dropped
                        }
                    }
                })
                .map_err(|e| FlowError::Crypto(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(HashingPool {
            jobs,
            waiting,
            capacity,
            #[cfg(any(test, feature = "test-hooks"))]
            threads: threads.max(1),
        })
    }

    /// Jobs queued and not yet started.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Queues `work` now, if the queue has room, and returns where its result will come.
    /// Dropping the receiver before the job's turn cancels it: it is then never run.
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<tokio::sync::oneshot::Receiver<T>, HashingError> {
        let capacity = self.capacity;
        if self.waiting.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| (w < capacity).then_some(w + 1)).is_err() {
            metrics::counter!("latchkey_password_hashes_total", "outcome" => "refused").increment(1);
            return Err(HashingError::Busy);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Box::new(move || {
            // The caller is gone (its request was cancelled): nobody needs this hash.
            if tx.is_closed() {
                metrics::counter!("latchkey_password_hashes_total", "outcome" => "abandoned").increment(1);
                return;
            }
            let _ = tx.send(work());
        }))?;
        Ok(rx)
    }

    /// Hands a job to the threads; `waiting` already counts it.
    fn send(&self, job: Job) -> Result<(), HashingError> {
        self.jobs.send(job).map_err(|_| {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            HashingError::Failed(FlowError::Crypto("the hashing threads have stopped".into()))
        })
    }

    /// Runs `work` on a hashing thread and waits for its result without blocking the
    /// async worker. Jobs run in arrival order; [`HashingError::Busy`] when the queue is full.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingError> {
        let rx = self.submit(work)?;
        rx.await.map_err(|_| HashingError::Failed(FlowError::Crypto("a hashing job failed".into())))
    }

    /// Occupies every thread until the returned hold is dropped (see
    /// [`AuthServer::hold_password_hashing`]). Not counted against the queue's room.
    #[cfg(any(test, feature = "test-hooks"))]
    async fn hold(&self) -> Result<HashingHold, HashingError> {
        let mut releases = Vec::new();
        let mut started = Vec::new();
        for _ in 0..self.threads {
            let (release, held) = mpsc::channel::<()>();
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            self.waiting.fetch_add(1, Ordering::SeqCst);
            self.send(Box::new(move || {
                let _ = tx.send(());
                let _ = held.recv(); // until the hold's sender is dropped
            }))?;
            releases.push(release);
            started.push(rx);
        }
        for rx in started {
            rx.await.map_err(|_| HashingError::Failed(FlowError::Crypto("a hashing job failed".into())))?;
        }
        Ok(HashingHold { _releases: releases })
    }
}

/// Every hashing thread held busy, until this is dropped.
#[cfg(any(test, feature = "test-hooks"))]
#[must_use = "the threads are released when this is dropped"]
pub struct HashingHold {
    _releases: Vec<mpsc::Sender<()>>,
}

impl AuthServer {
    /// Password checks waiting for a hashing thread.
    pub fn password_checks_waiting(&self) -> usize {
        self.hashing.waiting()
    }

    /// Keeps every password-hashing thread busy until the returned hold is dropped, so a
    /// test can fill the queue in front of them deterministically. Only with the
    /// `test-hooks` feature, which the end-to-end tests turn on and no build of the binary has.
    #[cfg(feature = "test-hooks")]
    pub async fn hold_password_hashing(&self) -> Result<HashingHold, FlowError> {
        Ok(self.hashing.hold().await?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;

    #[tokio::test]
    async fn jobs_run_off_the_caller_thread_and_return_their_results() {
        let pool = HashingPool::start(None).unwrap();
        let caller = std::thread::current().id();
        let (result, thread) = pool.run(|| (6 * 7, std::thread::current().id())).await.unwrap();
        assert_eq!(result, 42);
        assert_ne!(thread, caller);
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.unwrap().starts_with("latchkey-hash-"));
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_keeps_working() {
        let pool = HashingPool::start(None).unwrap();
        #[allow(clippy::panic)]
        let failed = pool.run(|| -> u8 { panic!("boom") }).await;
        assert!(failed.is_err());
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
    }

    #[tokio::test]
    async fn issue_13_a_full_queue_refuses_at_once_and_runs_nothing() {
        let pool = HashingPool::with_threads(1, 2).unwrap();
        let hold = pool.hold().await.unwrap();
        let queued = [pool.submit(|| 1).unwrap(), pool.submit(|| 2).unwrap()];
        assert_eq!(pool.waiting(), 2);
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let refused = pool.submit(move || flag.store(true, Ordering::SeqCst));
        assert!(matches!(refused, Err(HashingError::Busy)), "no room: refused without waiting");
        drop(hold);
        let [a, b] = queued;
        assert_eq!((a.await.unwrap(), b.await.unwrap()), (1, 2));
        assert_eq!(pool.waiting(), 0);
        assert_eq!(pool.run(|| 3).await.unwrap(), 3, "room again once the queue drains");
        assert!(!ran.load(Ordering::SeqCst), "the refused job never ran");
    }

    #[tokio::test]
    async fn issue_13_a_job_whose_caller_has_gone_is_not_run() {
        let pool = HashingPool::with_threads(1, 4).unwrap();
        let hold = pool.hold().await.unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let cancelled = pool.submit(move || flag.store(true, Ordering::SeqCst)).unwrap();
        // The caller's future is dropped (the client went away) while the job waits.
        drop(cancelled);
        let after = pool.submit(|| "next").unwrap();
        drop(hold);
        // One thread, jobs in order: the cancelled job's turn came before this one's.
        assert_eq!(after.await.unwrap(), "next");
        assert!(!ran.load(Ordering::SeqCst), "the cancelled job was hashed anyway");
        assert_eq!(pool.waiting(), 0);
    }

    #[tokio::test]
    async fn issue_13_a_dropped_run_future_cancels_its_job() {
        let pool = HashingPool::with_threads(1, 4).unwrap();
        let hold = pool.hold().await.unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let flag = ran.clone();
        let run = pool.run(move || flag.store(true, Ordering::SeqCst));
        // Polled once (queued), then dropped, as axum drops a handler whose client left.
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(1), run).await;
        assert!(timed_out.is_err());
        drop(hold);
        pool.run(|| ()).await.unwrap();
        assert!(!ran.load(Ordering::SeqCst));
    }
}
