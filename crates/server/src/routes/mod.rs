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
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};

use crate::AppState;

pub fn routes(state: &AppState) -> Router<AppState> {
    let registration = state.auth.settings().registration != latchkey_flows::RegistrationPolicy::Off;
    // The pages a browser visits; their handlers' `PageError`s become pages here.
    let pages = Router::new()
        .route("/authorize", get(authorize::authorize))
        .route("/login", get(login::login_page).post(login::login))
        .route("/logout", post(login::logout))
        .route("/consent", post(authorize::consent))
        .route("/device", get(device::device_page).post(device::device_decide))
        .route_layer(from_fn_with_state(state.clone(), browser::answer_page_errors));
    let router = Router::new()
        .merge(pages)
        .route("/token", post(token::token).fallback(endpoints::post_only))
        .route("/.well-known/oauth-authorization-server", get(discovery::metadata))
        .route("/jwks.json", get(discovery::jwks))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/static/latchkey.css", get(crate::pages::stylesheet))
        .route("/revoke", post(endpoints::revoke).fallback(endpoints::post_only))
        .route("/introspect", post(endpoints::introspect).fallback(endpoints::post_only))
        .route("/device_authorization", post(endpoints::device_authorization).fallback(endpoints::post_only));
    // RFC 8414: an endpoint that is off does not exist.
    if registration {
        router
            .route("/register", post(register::register))
            .route("/register/{client_id}", get(register::read).put(register::update).delete(register::delete))
    } else {
        router
    }
}
