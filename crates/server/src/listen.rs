//! The accept loop: one task per connection, a cap on how many are open at once, and a
//! deadline on every connection that is not sending requests.
//!
//! hyper-util's auto builder first reads the protocol preface with no timer, and hyper's
//! `header_read_timeout` covers HTTP/1 heads only, once that preface is read; HTTP/2 has no
//! such timer at all. So each connection task carries one timer of its own: a connection
//! that has not completed a request head `header_read_timeout` after it was accepted is
//! closed, whatever it sent (RFC 9112 §9.5: "servers will usually have some timeout value
//! beyond which they will no longer maintain an inactive connection"; RFC 9113 §9.1), and
//! one that has sent no new request for as long is shut down gracefully (GOAWAY on HTTP/2).
//! Per request the only added work is one relaxed atomic increment.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Poll;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::ServeOptions;

/// HTTP/2 keep-alive: a PING this often while a connection is open, and the connection is
/// closed if the peer does not answer it within [`H2_PING_TIMEOUT`] (a vanished peer).
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);
/// RFC 9113 §6.5.2: "It is recommended that this value be no smaller than 100".
const H2_MAX_CONCURRENT_STREAMS: u32 = 100;
/// Connections refused at the cap are logged at most this often.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(10);

pub(crate) async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT)
        .max_concurrent_streams(H2_MAX_CONCURRENT_STREAMS);
    // Every connection task holds one receiver until it ends: the receivers count the open
    // connections, and the sender asks them all to finish on shutdown.
    let (stop, _) = watch::channel(());
    let mut refusals = Refusals::default();
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment, keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if stop.receiver_count() >= options.max_client_connections {
            // Accepted and closed at once, so it does not wait in the backlog either.
            drop(stream);
            refusals.note(options.max_client_connections);
            continue;
        }
        // The peer address keys the per-address login limit.
        let service = tower::Layer::layer(
            &tower_http::add_extension::AddExtensionLayer::new(axum::extract::ConnectInfo(peer)),
            app.clone(),
        );
        let requests = Arc::new(AtomicU64::new(0));
        let service = Counted { inner: TowerToHyperService::new(service), requests: Arc::clone(&requests) };
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service).into_owned();
        let mut stop = stop.subscribe();
        let (timeout, grace) = (options.header_read_timeout, options.shutdown_grace);
        tokio::spawn(async move {
            let ended = {
                let mut conn = pin!(conn);
                let mut stopping = pin!(stop.changed());
                let mut timer = pin!(tokio::time::sleep(timeout));
                let mut watch = Watch::FirstRequest;
                poll_fn(|cx| {
                    if watch != Watch::Draining && stopping.as_mut().poll(cx).is_ready() {
                        conn.as_mut().graceful_shutdown();
                        watch = Watch::Draining;
                        timer.as_mut().reset(Instant::now() + grace);
                    }
                    while timer.as_mut().poll(cx).is_ready() {
                        let seen = requests.load(Ordering::Relaxed);
                        match watch {
                            Watch::Draining => return Poll::Ready(Ended::Cut),
                            Watch::FirstRequest if seen == 0 => return Poll::Ready(Ended::Silent),
                            Watch::Idle(before) if before == seen => {
                                // No new request for a whole period: GOAWAY (HTTP/2), or close
                                // once the response in flight is sent (HTTP/1); within `grace`.
                                conn.as_mut().graceful_shutdown();
                                watch = Watch::Draining;
                                timer.as_mut().reset(Instant::now() + grace);
                            }
                            Watch::FirstRequest | Watch::Idle(_) => {
                                watch = Watch::Idle(seen);
                                timer.as_mut().reset(Instant::now() + timeout);
                            }
                        }
                    }
                    conn.as_mut().poll(cx).map(Ended::Done)
                })
                .await
                // The connection is dropped (closed) here.
            };
            // Then its slot is freed.
            drop(stop);
            match ended {
                Ended::Done(Ok(())) => {}
                Ended::Done(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
                Ended::Silent => tracing::debug!("closed a connection that sent no request head in time"),
                Ended::Cut => tracing::debug!("closed a connection that did not finish in time"),
            }
        });
    }
    drop(listener);
    let _ = stop.send(());
    if tokio::time::timeout(options.shutdown_grace, stop.closed()).await.is_err() {
        tracing::warn!("shutdown grace period over; closing the remaining connections");
    }
    Ok(())
}

/// Where a connection's timer stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// No request yet: at the deadline the connection is closed.
    FirstRequest,
    /// This many requests had arrived at the last deadline: if no more arrive by the next,
    /// the connection is shut down gracefully.
    Idle(u64),
    /// Shutting down: at the deadline the connection is closed.
    Draining,
}

enum Ended {
    Done(Result<(), Box<dyn std::error::Error + Send + Sync>>),
    Silent,
    Cut,
}

/// Counts the requests of a connection (a request is counted once its head is read).
struct Counted<S> {
    inner: S,
    requests: Arc<AtomicU64>,
}

impl<S: hyper::service::Service<R>, R> hyper::service::Service<R> for Counted<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn call(&self, req: R) -> S::Future {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.inner.call(req)
    }
}

/// Connections closed at the cap since the last log line.
#[derive(Default)]
struct Refusals {
    count: u64,
    logged: Option<Instant>,
}

impl Refusals {
    fn note(&mut self, cap: usize) {
        self.count += 1;
        let now = Instant::now();
        if self.logged.is_none_or(|at| now.duration_since(at) >= REFUSAL_LOG_EVERY) {
            tracing::warn!(
                refused = self.count,
                max_client_connections = cap,
                "connection limit reached; closing new connections"
            );
            self.count = 0;
            self.logged = Some(now);
        }
    }
}
