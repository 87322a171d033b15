//! What a running server (`serve`, `demo`) does beside answering requests: the janitor,
//! and the signals that stop it.

/// Deletes expired rows every minute, and more often while it is behind
/// ([`latchkey_flows::next_janitor_run`]); on PostgreSQL, one instance at a time.
pub fn spawn_janitor(auth: latchkey_flows::AuthServer) {
    tokio::spawn(async move {
        // The first run a period after start: start-up stays fast.
        let mut next = latchkey_flows::JANITOR_PERIOD;
        loop {
            tokio::time::sleep(next).await;
            let started = std::time::Instant::now();
            next = match auth.housekeeping().await {
                Ok(purged) => latchkey_flows::next_janitor_run(&purged, started.elapsed()),
                Err(e) => {
                    tracing::warn!(error = %e, "housekeeping failed; will retry");
                    latchkey_flows::JANITOR_PERIOD
                }
            };
        }
    });
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not
/// when the future is first polled: a SIGTERM that comes just after the first request was
/// answered is not lost (the benchmark's start-up runs found that race).
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (term, interrupt) = {
        use tokio::signal::unix::{SignalKind, signal};
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    };
    async move {
        #[cfg(unix)]
        match (term, interrupt) {
            (Ok(mut term), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = interrupt.recv() => {}
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    }
}
