//! The authorization server over HTTP: thin axum adapters around `latchkey-flows`, and the
//! server-rendered login, consent and error pages.
//!
//! A handler extracts, delegates and maps; OAuth decisions live in `latchkey-protocol`
//! and `latchkey-flows`.
#![warn(missing_docs)]

mod cookies;
mod error;
mod form;
pub mod metrics;
mod pages;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use latchkey_flows::AuthServer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use pages::Pages;

/// Shared state of every handler. axum clones it for every request: one reference count,
/// not one for each of the server's parts.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] shares.
pub struct Shared {
    auth: AuthServer,
    pages: Pages,
    cookies: cookies::CookiePolicy,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// State for an authorization server. Cookies are `Secure` (and `__Host-` prefixed)
    /// when the issuer is an https URL.
    pub fn new(auth: AuthServer) -> Result<AppState, minijinja::Error> {
        let secure = auth.settings().issuer.starts_with("https://");
        Ok(AppState(Arc::new(Shared { auth, pages: Pages::new()?, cookies: cookies::CookiePolicy::new(secure) })))
    }
}

/// The router of the authorization server.
pub fn router(state: AppState) -> Router {
    let registration = state.auth.settings().registration != latchkey_flows::RegistrationPolicy::Off;
    metrics::handle();
    routes::routes(registration)
        .route_layer(axum::middleware::from_fn(metrics::track))
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30)))
        .layer(CatchPanicLayer::custom(|_| {
            // A panic is a bug; the client gets the RFC's server_error, never a torn connection.
            let mut res = axum::response::IntoResponse::into_response((
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))],
                r#"{"error":"server_error"}"#,
            ));
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }))
        .layer(TraceLayer::new_for_http())
        .layer(SetSensitiveRequestHeadersLayer::new([header::AUTHORIZATION, header::COOKIE]))
}

/// Connection-level limits.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// A client must send its request headers within this time (slow-client defence).
    pub header_read_timeout: Duration,
    /// On shutdown, in-flight requests get at most this long to finish.
    pub shutdown_grace: Duration,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { header_read_timeout: Duration::from_secs(10), shutdown_grace: Duration::from_secs(30) }
    }
}

/// Serves the router on a bound listener until `shutdown` resolves, with default options.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, ServeOptions::default(), shutdown).await
}

/// Serves `/metrics` (Prometheus text format) on its own listener until `shutdown`.
pub async fn serve_metrics(
    listener: tokio::net::TcpListener,
    store: latchkey_store::Store,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    metrics::handle();
    serve_router(listener, metrics::router(store), ServeOptions::default(), shutdown).await
}

/// Serves the router until `shutdown` resolves: then stops accepting, lets in-flight
/// requests finish (within `shutdown_grace`), and returns.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_router(listener, router(state), options, shutdown).await
}

async fn serve_router(
    listener: tokio::net::TcpListener,
    app: Router,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
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
        // The peer address keys the per-address login limit.
        let service =
            app.clone().layer(tower_http::add_extension::AddExtensionLayer::new(axum::extract::ConnectInfo(peer)));
        let mut builder = Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(options.header_read_timeout);
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(options.shutdown_grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("shutdown grace period over; closing the remaining connections");
    }
    Ok(())
}
