//! `GET /authorize` (RFC 6749 §4.1.1) and `POST /consent`: parse, delegate, render or redirect.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum_extra::extract::cookie::CookieJar;
use latchkey_flows::AuthorizeOutcome;
use latchkey_protocol::form::Params;
use serde::Serialize;

use super::browser::{PageResult, current_user, decision, page_form, redirect};
use super::login::{LoginForm, render_login};
use crate::AppState;
use crate::form::read_query;

/// `GET /authorize`.
pub async fn authorize(State(state): State<AppState>, jar: CookieJar, uri: Uri) -> PageResult {
    let params = read_query(uri.query())?;
    let session = state.cookies.session(&jar);
    match state.auth.authorize(&params, session.as_ref()).await? {
        AuthorizeOutcome::Redirect(url) => Ok(redirect(StatusCode::FOUND, &url)),
        AuthorizeOutcome::Login { client, .. } => {
            let form = LoginForm {
                return_to: format!("/authorize?{}", params.to_query()),
                client_name: Some(client.name.clone()),
                ..LoginForm::default()
            };
            render_login(&state, jar, StatusCode::OK, form)
        }
        AuthorizeOutcome::Consent { request, client, scopes, username, remembered } => {
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
            let (jar, csrf) = state.cookies.csrf(jar)?;
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
            Ok((jar, state.pages.render(StatusCode::OK, "consent.html", ctx)).into_response())
        }
    }
}

/// `POST /consent`: the resource owner's Allow or Deny.
pub async fn consent(State(state): State<AppState>, jar: CookieJar, headers: HeaderMap, body: Body) -> PageResult {
    let form = page_form(&state, &jar, &headers, body).await?;
    let request = Params::parse(form.get("request").unwrap_or("").as_bytes())?;
    let decision = decision(&form)?;
    let Some(user) = current_user(&state, &jar).await? else {
        let form = LoginForm {
            return_to: format!("/authorize?{}", request.to_query()),
            error: Some("Your session has ended. Log in again.".into()),
            ..LoginForm::default()
        };
        return render_login(&state, jar, StatusCode::UNAUTHORIZED, form);
    };
    let url = state.auth.decide(&request, &user, decision).await?;
    Ok(redirect(StatusCode::SEE_OTHER, &url))
}
