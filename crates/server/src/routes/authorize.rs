//! `GET /authorize` (RFC 6749 §4.1.1) and `POST /consent`: parse, delegate, render or redirect.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::CookieJar;
use latchkey_flows::AuthorizeOutcome;
use latchkey_protocol::form::Params;
use serde::Serialize;

use super::browser::{current_user, decision, flow_error, page_form, redirect, show_error};
use super::login::{LoginForm, render_login};
use crate::AppState;
use crate::form::read_query;

/// `GET /authorize`.
pub async fn authorize(State(state): State<AppState>, jar: CookieJar, uri: Uri) -> Response {
    let params = match read_query(uri.query()) {
        Ok(p) => p,
        Err(e) => return show_error(&state, &e),
    };
    let session = state.cookies.session(&jar);
    match state.auth.authorize(&params, session.as_ref()).await {
        Ok(AuthorizeOutcome::Redirect(url)) => redirect(StatusCode::FOUND, &url),
        Ok(AuthorizeOutcome::Login { client, .. }) => {
            let form = LoginForm {
                return_to: format!("/authorize?{}", params.to_query()),
                client_name: Some(client.name.clone()),
                ..LoginForm::default()
            };
            render_login(&state, jar, StatusCode::OK, form)
        }
        Ok(AuthorizeOutcome::Consent { request, client, scopes, username, remembered }) => {
            #[derive(Serialize)]
            struct Ctx {
                client_name: String,
                username: String,
                scopes: Vec<latchkey_flows::ScopeDefinition>,
                redirect_host: String,
                csrf: String,
                request: String,
                remembered: bool,
            }
            let (jar, csrf) = match state.cookies.csrf(jar) {
                Ok(x) => x,
                Err(e) => return flow_error(&state, e, StatusCode::FOUND),
            };
            let redirect_host = url::Url::parse(&request.redirect_uri)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_else(|| request.redirect_uri.clone());
            let ctx = Ctx {
                client_name: client.name.clone(),
                username,
                scopes,
                redirect_host,
                csrf,
                request: params.to_query(),
                remembered,
            };
            (jar, state.pages.render(StatusCode::OK, "consent.html", ctx)).into_response()
        }
        Err(e) => flow_error(&state, e, StatusCode::FOUND),
    }
}

/// `POST /consent`: the resource owner's Allow or Deny.
pub async fn consent(State(state): State<AppState>, jar: CookieJar, headers: HeaderMap, body: Body) -> Response {
    let form = match page_form(&state, &jar, &headers, body).await {
        Ok(f) => f,
        Err(e) => return show_error(&state, &e),
    };
    let request = match Params::parse(form.get("request").unwrap_or("").as_bytes()) {
        Ok(p) => p,
        Err(e) => return show_error(&state, &e),
    };
    let decision = match decision(&form) {
        Ok(d) => d,
        Err(e) => return show_error(&state, &e),
    };
    let user = match current_user(&state, &jar).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            let form = LoginForm {
                return_to: format!("/authorize?{}", request.to_query()),
                error: Some("Your session has ended. Log in again.".into()),
                ..LoginForm::default()
            };
            return render_login(&state, jar, StatusCode::UNAUTHORIZED, form);
        }
        Err(e) => return flow_error(&state, e, StatusCode::SEE_OTHER),
    };
    match state.auth.decide(&request, &user, decision).await {
        Ok(url) => redirect(StatusCode::SEE_OTHER, &url),
        Err(e) => flow_error(&state, e, StatusCode::SEE_OTHER),
    }
}
