//! The authorization server over HTTP: thin axum adapters around `latchkey-flows`, and the
//! server-rendered login, consent and error pages.
//!
//! A handler extracts, delegates and maps; OAuth decisions live in `latchkey-protocol`
//! and `latchkey-flows`.
#![warn(missing_docs)]

mod cookies;
mod error;
mod form;
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

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    auth: AuthServer,
    pages: Arc<Pages>,
    cookies: cookies::CookiePolicy,
}

impl AppState {
    /// State for an authorization server. Cookies are `Secure` (and `__Host-` prefixed)
    /// when the issuer is an https URL.
    pub fn new(auth: AuthServer) -> Result<AppState, minijinja::Error> {
        let secure = auth.settings().issuer.starts_with("https://");
        Ok(AppState { auth, pages: Arc::new(Pages::new()?), cookies: cookies::CookiePolicy::new(secure) })
    }
}

/// The router of the authorization server.
pub fn router(state: AppState) -> Router {
    let registration = state.auth.settings().registration != latchkey_flows::RegistrationPolicy::Off;
    routes::routes(registration)
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

/// Serves the router on a bound listener until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer address keys the per-address login limit.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
