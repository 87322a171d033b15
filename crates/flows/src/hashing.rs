//! Password hashing (Argon2id) on a small pool of dedicated threads.
//!
//! Argon2id with the default parameters takes 19 MiB and tens of milliseconds of one
//! core per hash. Running it on the async workers would stall every other request;
//! running it on tokio's blocking pool spreads it over many threads, and the allocator
//! keeps a 19 MiB block resident for each thread that ever hashed (hundreds of MiB under
//! a login flood). A fixed pool of half the cores bounds both: token issuance keeps the
//! other half, and memory grows by at most 19 MiB per hashing thread.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use crate::FlowError;

type Job = Box<dyn FnOnce() + Send>;

/// A handle to the hashing threads; they end when the last handle is dropped.
#[derive(Clone)]
pub(crate) struct HashingPool {
    jobs: mpsc::Sender<Job>,
}

impl HashingPool {
    /// Starts `max(1, cores / 2)` threads.
    pub(crate) fn start() -> Result<HashingPool, FlowError> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..(cores / 2).max(1) {
            let queue = queue.clone();
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
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            Err(_) => return, // every handle dropped
                        }
                    }
                })
                .map_err(|e| FlowError::Crypto(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(HashingPool { jobs })
    }

    /// Runs `work` on a hashing thread and waits for its result without blocking the
    /// async worker. Jobs run in arrival order.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, FlowError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| FlowError::Crypto("the hashing threads have stopped".into()))?;
        rx.await.map_err(|_| FlowError::Crypto("a hashing job failed".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_off_the_caller_thread_and_return_their_results() {
        let pool = HashingPool::start().unwrap();
        let caller = std::thread::current().id();
        let (result, thread) = pool.run(|| (6 * 7, std::thread::current().id())).await.unwrap();
        assert_eq!(result, 42);
        assert_ne!(thread, caller);
        let name = pool.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.unwrap().starts_with("latchkey-hash-"));
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_pool_keeps_working() {
        let pool = HashingPool::start().unwrap();
        #[allow(clippy::panic)]
        let failed = pool.run(|| -> u8 { panic!("boom") }).await;
        assert!(failed.is_err());
        assert_eq!(pool.run(|| 1).await.unwrap(), 1);
    }
}
