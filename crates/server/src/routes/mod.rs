//! Routes of the authorization server.

mod authorize;
mod browser;
mod device;
mod discovery;
mod endpoints;
mod health;
mod login;
mod register;
mod token;

use axum::Router;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes(registration: bool) -> Router<AppState> {
    let router = Router::new()
        .route("/authorize", get(authorize::authorize))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/consent", post(authorize::consent))
        .route("/token", post(token::token).fallback(endpoints::post_only))
        .route("/.well-known/oauth-authorization-server", get(discovery::metadata))
        .route("/jwks.json", get(discovery::jwks))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/latchkey.css", get(crate::pages::stylesheet))
        .route("/revoke", post(endpoints::revoke).fallback(endpoints::post_only))
        .route("/introspect", post(endpoints::introspect).fallback(endpoints::post_only))
        .route("/device_authorization", post(endpoints::device_authorization).fallback(endpoints::post_only))
        .route("/device", get(device::device_page).post(device::device_decide));
    // RFC 8414: an endpoint that is off does not exist.
    if registration {
        router
            .route("/register", post(register::register))
            .route("/register/{client_id}", get(register::read).put(register::update).delete(register::delete))
    } else {
        router
    }
}
