//! `latchkey serve`.

use anyhow::Context;
use latchkey_server::AppState;

use crate::config::Config;

pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = config.bind_addr()?;
    let auth = super::auth_server(&config).await?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("bind: cannot listen on {addr}"))?;
    let metrics = match config.metrics_addr()? {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("metrics_bind: cannot listen on {addr}"))?,
        ),
        None => None,
    };
    if let Some(listener) = metrics {
        let addr = listener.local_addr()?;
        let server = latchkey_server::serve_metrics(listener, auth.store().clone(), shutdown_signal());
        tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
        tracing::info!(address = %addr, "metrics at /metrics");
    }
    spawn_janitor(auth.clone());
    let store = auth.store().clone();
    tokio::task::spawn_blocking(latchkey_flows::warm_up_crypto);
    let state = AppState::new(auth)?;
    tracing::info!(address = %addr, issuer = %config.issuer(), database = %super::redact_url(&config.database_url), "Latchkey listening");
    eprintln!("Latchkey listening on http://{addr} (issuer {})", config.issuer());
    let served = latchkey_server::serve(listener, state, shutdown_signal()).await.context("server");
    // Finishes the writes in flight; on SQLite the last connection to close copies the
    // write-ahead log into the database file and removes it.
    store.close().await;
    served?;
    Ok(())
}

/// Deletes expired rows every minute, and more often while it is behind
/// ([`latchkey_flows::next_janitor_run`]); on PostgreSQL, one instance at a time.
pub fn spawn_janitor(auth: latchkey_flows::AuthServer) {
    tokio::spawn(async move {
        // The first run a minute after start: start-up stays fast.
        let mut next = std::time::Duration::from_secs(60);
        loop {
            tokio::time::sleep(next).await;
            let started = std::time::Instant::now();
            next = match auth.housekeeping().await {
                Ok(purged) => latchkey_flows::next_janitor_run(&purged, started.elapsed()),
                Err(e) => {
                    tracing::warn!(error = %e, "housekeeping failed; will retry");
                    std::time::Duration::from_secs(60)
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
