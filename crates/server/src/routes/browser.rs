//! What the pages a browser visits share (authorization, consent, login, device
//! verification): redirects, the logged-in user, [`PageError`] and its pages, and forms
//! checked for CSRF.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use latchkey_flows::{Decision, FlowError};
use latchkey_protocol::authorize;
use latchkey_protocol::form::Params;
use latchkey_protocol::{ErrorCode, OAuthError};
use latchkey_store::User;

use crate::AppState;
use crate::error::{Failure, classify};
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

/// Why a page request failed. Page handlers return it with `?`; [`answer_page_errors`],
/// the layer on the page routes, turns it into the error page or the redirect to the client.
pub struct PageError(FlowError);

impl From<FlowError> for PageError {
    fn from(e: FlowError) -> Self {
        PageError(e)
    }
}

impl From<OAuthError> for PageError {
    fn from(e: OAuthError) -> Self {
        PageError(FlowError::OAuth(e))
    }
}

/// What a page handler answers.
pub type PageResult = Result<Response, PageError>;

impl IntoResponse for PageError {
    /// Classifies (and logs) the failure now; the page needs the templates, the issuer and
    /// the request's method, so [`answer_page_errors`] renders it. A route without that
    /// layer answers a bare 500.
    fn into_response(self) -> Response {
        let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
        res.extensions_mut().insert(classify(self.0));
        res
    }
}

/// The layer of the page routes: renders the [`PageError`] a handler returned. A redirect
/// to the client is 302 after GET and 303 after POST (RFC 9700 §4.12: never 307, which
/// would replay the form with the password).
pub async fn answer_page_errors(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let redirect_status = if request.method() == Method::POST { StatusCode::SEE_OTHER } else { StatusCode::FOUND };
    let mut res = next.run(request).await;
    match res.extensions_mut().remove::<Failure>() {
        Some(failure) => failure_page(&state, failure, redirect_status),
        None => res,
    }
}

/// A failure as a browser sees it: shown to the user, redirected to the client
/// (§4.1.2.1), or an outage page.
fn failure_page(state: &AppState, failure: Failure, redirect_status: StatusCode) -> Response {
    match failure {
        Failure::Told(e) => show_error(state, &e),
        Failure::Redirect { redirect_uri, state: client_state, error } => redirect(
            redirect_status,
            &authorize::error_redirect(&redirect_uri, client_state.as_deref(), &error, &state.auth.settings().issuer),
        ),
        Failure::Unavailable => state.pages.error(
            StatusCode::SERVICE_UNAVAILABLE,
            "Temporarily unavailable",
            Some(ErrorCode::TemporarilyUnavailable.as_str()),
            "The service cannot reach its database right now.",
            "Please try again in a moment.",
        ),
        Failure::Internal => state.pages.error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            Some(ErrorCode::ServerError.as_str()),
            "An internal error occurred.",
            "Please try again later.",
        ),
    }
}

/// §4.1.2.1: an error the resource owner is told about, never redirected.
fn show_error(state: &AppState, e: &OAuthError) -> Response {
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
