//! Routes of the authorization server.

mod authorize;
mod discovery;
mod health;
mod login;
mod token;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize::authorize))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/consent", post(authorize::consent))
        .route("/token", post(token::token).fallback(token::wrong_method))
        .route(
            "/.well-known/oauth-authorization-server",
            get(discovery::metadata),
        )
        .route("/jwks.json", get(discovery::jwks))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/latchkey.css", get(crate::pages::stylesheet))
}
