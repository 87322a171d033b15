//! `GET`/`POST /login` and `POST /logout`: the resource owner's login session.

use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use latchkey_flows::LoginError;
use latchkey_protocol::form::Params;
use latchkey_protocol::secret::Password;
use serde::Serialize;

use super::browser::{PageResult, current_user, page_form, redirect};
use crate::AppState;

/// What the login page shows.
#[derive(Default)]
pub struct LoginForm {
    /// Where to go after logging in: a local path (the pending authorization request or
    /// the device page); empty for a plain login.
    pub return_to: String,
    /// The client's name, when logging in for one.
    pub client_name: Option<String>,
    /// A message for the user.
    pub error: Option<String>,
    /// The username typed before.
    pub username: String,
}

pub fn render_login(state: &AppState, jar: CookieJar, status: StatusCode, form: LoginForm) -> PageResult {
    #[derive(Serialize)]
    struct Ctx {
        csrf: String,
        return_to: String,
        client_name: Option<String>,
        error: Option<String>,
        username: String,
    }
    let (jar, csrf) = state.cookies.csrf(jar)?;
    let ctx = Ctx {
        csrf,
        return_to: form.return_to,
        client_name: form.client_name,
        error: form.error,
        username: form.username,
    };
    Ok((jar, state.pages.render(status, "login.html", ctx)).into_response())
}

pub fn message(state: &AppState, jar: CookieJar, title: &str, text: &str, logout: bool) -> PageResult {
    #[derive(Serialize)]
    struct Ctx<'a> {
        title: &'a str,
        text: &'a str,
        logout: bool,
        csrf: String,
    }
    let (jar, csrf) = state.cookies.csrf(jar)?;
    Ok((jar, state.pages.render(StatusCode::OK, "message.html", Ctx { title, text, logout, csrf })).into_response())
}

/// `GET /login`: the form, or who is logged in.
pub async fn login_page(State(state): State<AppState>, jar: CookieJar) -> PageResult {
    match current_user(&state, &jar).await? {
        Some(user) => message(&state, jar, "You are logged in", &format!("Logged in as {}.", user.username), true),
        None => render_login(&state, jar, StatusCode::OK, LoginForm::default()),
    }
}

/// `POST /login`: checks the password, starts a new session, continues the authorization.
pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    let form = page_form(&state, &jar, &headers, body).await?;
    let return_to = form.get("return_to").unwrap_or("").to_owned();
    let username = form.get("username").unwrap_or("").to_owned();
    let password = Password::new(form.get("password").unwrap_or(""));
    match state.auth.login(&username, &password, Some(peer.ip())).await {
        Ok((token, _user)) => {
            // A new session id on every login (no fixation); the old session ends.
            if let Some(old) = state.cookies.session(&jar) {
                state.auth.logout(&old).await?;
            }
            let jar = state.cookies.set_session(jar, &token);
            let next = if is_local_path(&return_to) { return_to } else { "/login".to_owned() };
            Ok((jar, redirect(StatusCode::SEE_OTHER, &next)).into_response())
        }
        Err(LoginError::BadCredentials) => {
            let client_name = client_name(&state, &return_to).await;
            let form =
                LoginForm { return_to, client_name, error: Some("Wrong username or password.".into()), username };
            render_login(&state, jar, StatusCode::UNAUTHORIZED, form)
        }
        Err(LoginError::Throttled { retry_after }) => {
            let client_name = client_name(&state, &return_to).await;
            let error = format!("Too many failed attempts. Try again in {}.", in_words(retry_after));
            let form = LoginForm { return_to, client_name, error: Some(error), username };
            Ok(retry_after_header(render_login(&state, jar, StatusCode::TOO_MANY_REQUESTS, form)?, retry_after))
        }
        Err(LoginError::Busy { retry_after }) => {
            // Too many password checks are waiting: none was made for this one.
            let client_name = client_name(&state, &return_to).await;
            let error = "The server is busy. Try again in a moment.".to_owned();
            let form = LoginForm { return_to, client_name, error: Some(error), username };
            Ok(retry_after_header(render_login(&state, jar, StatusCode::SERVICE_UNAVAILABLE, form)?, retry_after))
        }
        Err(LoginError::Flow(e)) => Err(e.into()),
    }
}

/// A wait in words: seconds under two minutes, minutes above.
fn in_words(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds < 120 { plural(seconds.max(1), "second") } else { plural((seconds + 59) / 60, "minute") }
}

/// RFC 9110 §10.2.3 `Retry-After`, in seconds (at least 1).
fn retry_after_header(mut res: Response, seconds: i64) -> Response {
    if let Ok(v) = axum::http::HeaderValue::from_str(&seconds.max(1).to_string()) {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    res
}

/// Only a path on this server: never `//host`, a scheme, or a backslash trick (no open
/// redirector, RFC 9700 §4.11).
fn is_local_path(p: &str) -> bool {
    p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && !p.chars().any(char::is_control)
}

/// The client named by a pending authorization request, for the login page.
async fn client_name(state: &AppState, return_to: &str) -> Option<String> {
    let query = return_to.strip_prefix("/authorize?")?;
    let params = Params::parse(query.as_bytes()).ok()?;
    let client = state.auth.client(params.get("client_id")?).await.ok()??;
    Some(client.name.clone())
}

/// `POST /logout`.
pub async fn logout(State(state): State<AppState>, jar: CookieJar, headers: HeaderMap, body: Body) -> PageResult {
    page_form(&state, &jar, &headers, body).await?;
    if let Some(token) = state.cookies.session(&jar) {
        state.auth.logout(&token).await?;
    }
    let jar = state.cookies.clear_session(jar);
    message(&state, jar, "Logged out", "You are logged out.", false)
}
