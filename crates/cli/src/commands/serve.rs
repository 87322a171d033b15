//! `latchkey serve`.

use anyhow::Context;
use latchkey_server::AppState;

use crate::config::Config;
use crate::lifecycle::{shutdown_signal, spawn_janitor};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let addr = config.bind_addr()?;
    // The binary opened the store, so it closes it (and reports on its pool) too.
    let store = super::open_store(&config).await?;
    let auth = super::auth_server_on(store.clone(), &config).await?;
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
        let server = latchkey_server::serve_metrics(listener, store.clone(), shutdown_signal());
        tokio::spawn(async move {
            if let Err(e) = server.await {
                tracing::error!(error = %e, "metrics listener failed");
            }
        });
        tracing::info!(address = %addr, "metrics at /metrics");
    }
    spawn_janitor(auth.clone());
    tokio::task::spawn_blocking(latchkey_flows::warm_up_crypto);
    let state = AppState::new(auth)?;
    let options = config.serve_options();
    tracing::info!(
        address = %addr,
        issuer = %config.issuer(),
        database = %super::redact_url(&config.database_url),
        max_client_connections = options.max_client_connections,
        "Latchkey listening"
    );
    eprintln!("Latchkey listening on http://{addr} (issuer {})", config.issuer());
    let served = latchkey_server::serve_with(listener, state, options, shutdown_signal()).await.context("server");
    // Finishes the writes in flight; on SQLite the last connection to close copies the
    // write-ahead log into the database file and removes it.
    store.close().await;
    served?;
    Ok(())
}
