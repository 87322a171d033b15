//! The device verification page, RFC 8628 §3.3: the user types (or arrives with) the code,
//! logs in, sees the client and scopes, and allows or denies.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum_extra::extract::cookie::CookieJar;
use latchkey_flows::{DeviceDecided, ScopeDefinition, UserCodeCheck};
use latchkey_protocol::OAuthError;
use latchkey_protocol::device::DeviceDecision;
use latchkey_protocol::form::Params;
use serde::Serialize;

use super::browser::{PageResult, current_user, page_form};
use super::login::{LoginForm, message, render_login};
use crate::AppState;
use crate::form::read_query;

#[derive(Serialize, Default)]
struct Ctx {
    client_name: Option<String>,
    username: String,
    user_code: String,
    scopes: Vec<ScopeDefinition>,
    csrf: String,
    error: Option<String>,
}

fn page(state: &AppState, jar: CookieJar, status: StatusCode, mut ctx: Ctx) -> PageResult {
    let (jar, csrf) = state.cookies.csrf(jar)?;
    ctx.csrf = csrf;
    Ok((jar, state.pages.render(status, "device.html", ctx)).into_response())
}

/// RFC 8628 §5.1: the user code is short, so guessing it is limited. Past the limit the
/// page says so, with `Retry-After` (RFC 6585 §4), and no code was looked up.
fn too_many_attempts(state: &AppState, jar: CookieJar, retry_after: i64) -> PageResult {
    let minutes = (retry_after + 59) / 60;
    let wait = if minutes == 1 { "a minute".to_owned() } else { format!("{minutes} minutes") };
    let ctx = Ctx { error: Some(format!("Too many wrong codes. Wait {wait}, then try again.")), ..Ctx::default() };
    let mut res = page(state, jar, StatusCode::TOO_MANY_REQUESTS, ctx)?;
    res.headers_mut().insert(RETRY_AFTER, HeaderValue::from(retry_after));
    Ok(res)
}

/// `GET /device[?user_code=…]`.
pub async fn device_page(State(state): State<AppState>, jar: CookieJar, RawQuery(query): RawQuery) -> PageResult {
    let params = read_query(query.as_deref())?;
    let Some(user) = current_user(&state, &jar).await? else {
        let return_to = match params.get("user_code") {
            Some(code) => format!("/device?{}", Params::from_pairs([("user_code", code)]).to_query()),
            None => "/device".to_owned(),
        };
        return render_login(&state, jar, StatusCode::OK, LoginForm { return_to, ..LoginForm::default() });
    };
    let Some(typed) = params.get("user_code") else {
        return page(&state, jar, StatusCode::OK, Ctx::default());
    };
    match state.auth.check_user_code(&user, typed).await? {
        UserCodeCheck::Pending { user_code, client, scopes } => {
            let ctx = Ctx {
                client_name: Some(client.name),
                username: user.username,
                user_code: latchkey_flows::format_user_code(&user_code),
                scopes,
                ..Ctx::default()
            };
            page(&state, jar, StatusCode::OK, ctx)
        }
        UserCodeCheck::Unknown => {
            let ctx = Ctx {
                user_code: typed.to_owned(),
                error: Some("That code is not valid or has expired. Check your device and try again.".into()),
                ..Ctx::default()
            };
            page(&state, jar, StatusCode::BAD_REQUEST, ctx)
        }
        UserCodeCheck::TooManyAttempts { retry_after } => too_many_attempts(&state, jar, retry_after),
    }
}

/// `POST /device`: the user's Allow or Deny.
pub async fn device_decide(
    State(state): State<AppState>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Body,
) -> PageResult {
    let form = page_form(&state, &jar, &headers, body).await?;
    // The Allow or Deny button the form was submitted with.
    let Some(decision) = form.get("decision").and_then(DeviceDecision::parse) else {
        return Err(OAuthError::invalid_request("missing decision").into());
    };
    let Some(user) = current_user(&state, &jar).await? else {
        let form = LoginForm { return_to: "/device".into(), ..LoginForm::default() };
        return render_login(&state, jar, StatusCode::UNAUTHORIZED, form);
    };
    match state.auth.decide_device(&user, form.get("user_code").unwrap_or(""), decision).await? {
        DeviceDecided::Recorded if decision == DeviceDecision::Allow => message(
            &state,
            jar,
            "Device connected",
            "You can return to your device; it will continue on its own.",
            false,
        ),
        DeviceDecided::Recorded => message(&state, jar, "Request denied", "The device was not given access.", false),
        DeviceDecided::TooManyAttempts { retry_after } => too_many_attempts(&state, jar, retry_after),
        DeviceDecided::NotPending => {
            let ctx = Ctx {
                error: Some("That code is no longer waiting for an answer. Start again on your device.".into()),
                ..Ctx::default()
            };
            page(&state, jar, StatusCode::BAD_REQUEST, ctx)
        }
    }
}
