//! The authorization server over HTTP: thin axum adapters around `latchkey-flows`, and the
//! server-rendered login, consent and error pages.
//!
//! A handler extracts, delegates and maps; OAuth decisions live in `latchkey-protocol`
//! and `latchkey-flows`.
#![warn(missing_docs)]

mod cookies;
mod error;
mod form;
mod listen;
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
    metrics::handle();
    routes::routes(&state)
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
    /// A connection must complete a request head within this time of being accepted, and
    /// of its last request: a slow or silent client (HTTP/1 or HTTP/2, before or after the
    /// protocol preface) is closed after it.
    pub header_read_timeout: Duration,
    /// On shutdown, in-flight requests get at most this long to finish.
    pub shutdown_grace: Duration,
    /// Most client connections open at once; a connection beyond it is closed as soon as
    /// it is accepted. The binary sizes it to the open-file limit.
    pub max_client_connections: usize,
}

/// Connections the metrics listener keeps open at once.
pub const METRICS_CONNECTIONS: usize = 16;

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            header_read_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            // Fits the common 1,024 open-file limit with room for the database pool.
            max_client_connections: 768,
        }
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
    let options = ServeOptions { max_client_connections: METRICS_CONNECTIONS, ..ServeOptions::default() };
    listen::serve_router(listener, metrics::router(store), options, shutdown).await
}

/// Serves the router until `shutdown` resolves: then stops accepting, lets in-flight
/// requests finish (within `shutdown_grace`), and returns.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    options: ServeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    listen::serve_router(listener, router(state), options, shutdown).await
}
