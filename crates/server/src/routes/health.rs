//! Liveness and readiness.

use axum::extract::State;
use axum::http::StatusCode;

use crate::AppState;

/// `/healthz`: the process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `/readyz`: the database answers too.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.auth.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
