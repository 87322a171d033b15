//! What the pages a browser visits share (authorization, consent, login, device
//! verification): redirects, the logged-in user, error pages, and forms checked for CSRF.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use latchkey_flows::{Decision, FlowError};
use latchkey_protocol::authorize::{self, AuthorizeError};
use latchkey_protocol::form::Params;
use latchkey_protocol::{ErrorCode, OAuthError};
use latchkey_store::{StoreError, User};

use crate::AppState;
use crate::form::read_form;
use crate::pages::harden;

/// A redirect that carries a code or an error to the client. 302 for GET and 303 after a
/// POST (RFC 9700 §4.12: never 307, which would replay the form with the password).
pub fn redirect(status: StatusCode, location: &str) -> Response {
    let Ok(value) = HeaderValue::from_str(location) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let mut res = harden(status.into_response());
    res.headers_mut().insert(header::LOCATION, value);
    res
}

/// The logged-in user of this browser, if any.
pub async fn current_user(state: &AppState, jar: &CookieJar) -> Result<Option<User>, FlowError> {
    match state.cookies.session(jar) {
        Some(token) => state.auth.session_user(&token).await,
        None => Ok(None),
    }
}

/// Renders a failure of the authorization endpoint: shown to the user, or redirected to
/// the client (§4.1.2.1), or an outage page.
pub fn flow_error(state: &AppState, e: FlowError, method_status: StatusCode) -> Response {
    match e {
        FlowError::Authorize(AuthorizeError::Show(e)) => show_error(state, &e),
        FlowError::Authorize(AuthorizeError::Redirect { redirect_uri, state: client_state, error }) => redirect(
            method_status,
            &authorize::error_redirect(&redirect_uri, client_state.as_deref(), &error, &state.auth.settings().issuer),
        ),
        FlowError::OAuth(e) => show_error(state, &e),
        FlowError::Store(StoreError::Unavailable(cause)) => {
            crate::metrics::store_error("unavailable");
            tracing::error!(%cause, "database unavailable");
            state.pages.error(
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                Some(ErrorCode::TemporarilyUnavailable.as_str()),
                "The service cannot reach its database right now.",
                "Please try again in a moment.",
            )
        }
        other => {
            if matches!(other, FlowError::Store(_)) {
                crate::metrics::store_error("other");
            }
            tracing::error!(error = %other, "internal error");
            state.pages.error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                Some("server_error"),
                "An internal error occurred.",
                "Please try again later.",
            )
        }
    }
}

/// §4.1.2.1: an error the resource owner is told about, never redirected.
pub fn show_error(state: &AppState, e: &OAuthError) -> Response {
    state.pages.error(
        StatusCode::BAD_REQUEST,
        "This request cannot be completed",
        Some(e.code.as_str()),
        &e.description,
        "The application that sent you here made an invalid request. Go back to it and try again.",
    )
}

/// Reads a page's form and checks its CSRF token before anything else happens.
pub async fn page_form(
    state: &AppState,
    jar: &CookieJar,
    headers: &HeaderMap,
    body: Body,
) -> Result<Params, OAuthError> {
    let form = read_form(headers, body).await?;
    if !state.cookies.csrf_ok(jar, form.get("csrf")) {
        return Err(OAuthError::invalid_request(
            "the form expired or came from another site; reload the page and try again",
        ));
    }
    Ok(form)
}

/// The Allow or Deny button a form was submitted with.
pub fn decision(form: &Params) -> Result<Decision, OAuthError> {
    match form.get("decision") {
        Some("allow") => Ok(Decision::Allow),
        Some("deny") => Ok(Decision::Deny),
        _ => Err(OAuthError::invalid_request("missing decision")),
    }
}
