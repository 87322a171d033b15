//! The demo client web app: a confidential client that walks through RFC 6749 Figure 1
//! (A–F) and the refresh figure of §1.5 (G–H), and shows each step.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use latchkey_client::{OAuthClient, PendingAuthorization};
use latchkey_protocol::token::TokenResponse;
use minijinja::Environment;
use serde::Serialize;
use tokio::sync::OnceCell;

const COOKIE: &str = "latchkey_demo_client";

pub struct Config {
    pub issuer: String,
    pub api_url: String,
    pub client_url: String,
    pub client_id: String,
    pub client_secret: Option<String>,
}

#[derive(Clone, Serialize)]
struct Step {
    label: String,
    title: String,
    detail: String,
    ok: bool,
}

#[derive(Default)]
struct Session {
    pending: Option<PendingAuthorization>,
    tokens: Option<TokenResponse>,
    obtained_at: i64,
    steps: Vec<Step>,
}

struct App {
    config: Config,
    oauth: OnceCell<OAuthClient>,
    sessions: Mutex<HashMap<String, Session>>,
    http: reqwest::Client,
    env: Environment<'static>,
}

type Shared = Arc<App>;

pub fn router(config: Config) -> anyhow::Result<Router> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_template("demo.html", include_str!("demo.html"))?;
    let http = reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build()?;
    let app = Arc::new(App { config, oauth: OnceCell::new(), sessions: Mutex::new(HashMap::new()), http, env });
    Ok(Router::new()
        .route("/", get(home))
        .route("/start", post(start))
        .route("/callback", get(callback))
        .route("/call/{what}", post(call))
        .route("/refresh", post(refresh))
        .route("/reset", post(reset))
        .with_state(app))
}

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// `eyJ0eXAiOi…x8Qk`: enough to recognise a token, not enough to use it.
fn shorten(token: &str) -> String {
    if token.len() <= 24 { token.to_owned() } else { format!("{}…{}", &token[..12], &token[token.len() - 6..]) }
}

fn session_id(headers: &axum::http::HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').filter_map(|c| c.trim().split_once('=')).find(|(k, _)| *k == COOKIE).map(|(_, v)| v.to_owned())
}

impl App {
    async fn oauth(&self) -> Result<&OAuthClient, String> {
        self.oauth
            .get_or_try_init(|| {
                OAuthClient::discover(&self.config.issuer, &self.config.client_id, self.config.client_secret.as_deref())
            })
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs `f` on this browser's session, creating one (and its cookie) when needed.
    fn with_session<R>(
        &self,
        headers: &axum::http::HeaderMap,
        f: impl FnOnce(&mut Session) -> R,
    ) -> (Option<String>, R) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let (id, new) = match session_id(headers).filter(|id| sessions.contains_key(id)) {
            Some(id) => (id, false),
            None => {
                let id = latchkey_client::random_token(16).unwrap_or_else(|_| now().to_string());
                sessions.insert(id.clone(), Session::default());
                (id, true)
            }
        };
        let session = sessions.entry(id.clone()).or_default();
        let r = f(session);
        (new.then_some(id), r)
    }
}

fn finish(new_cookie: Option<String>, mut res: Response) -> Response {
    if let Some(id) = new_cookie
        && let Ok(v) = HeaderValue::from_str(&format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax"))
    {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

fn step(label: &str, title: impl Into<String>, detail: impl Into<String>, ok: bool) -> Step {
    Step { label: label.into(), title: title.into(), detail: detail.into(), ok }
}

async fn home(State(app): State<Shared>, headers: axum::http::HeaderMap) -> Response {
    #[derive(Serialize)]
    struct Ctx {
        issuer: String,
        api_url: String,
        client_id: String,
        has_tokens: bool,
        access_token: String,
        refresh_token: String,
        expires_in: i64,
        scope: String,
        steps: Vec<Step>,
    }
    let (cookie, ctx) = app.with_session(&headers, |s| {
        let (access_token, refresh_token, expires_in, scope) = match &s.tokens {
            Some(t) => (
                shorten(&t.access_token),
                t.refresh_token.as_deref().map(shorten).unwrap_or_default(),
                (s.obtained_at + t.expires_in - now()).max(0),
                t.scope.clone().unwrap_or_default(),
            ),
            None => Default::default(),
        };
        Ctx {
            issuer: app.config.issuer.clone(),
            api_url: app.config.api_url.clone(),
            client_id: app.config.client_id.clone(),
            has_tokens: s.tokens.is_some(),
            access_token,
            refresh_token,
            expires_in,
            scope,
            steps: s.steps.iter().rev().cloned().collect(),
        }
    });
    let html = app.env.get_template("demo.html").and_then(|t| t.render(minijinja::value::Serde(&ctx)));
    let res = match html {
        Ok(h) => Html(h).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    finish(cookie, res)
}

/// (A) Send the browser to the authorization endpoint.
async fn start(State(app): State<Shared>, headers: axum::http::HeaderMap) -> Response {
    let redirect_uri = format!("{}/callback", app.config.client_url);
    let pending = match app
        .oauth()
        .await
        .and_then(|c| c.authorization_request(&redirect_uri, Some("profile notes:read")).map_err(|e| e.to_string()))
    {
        Ok(p) => p,
        Err(e) => {
            let (cookie, ()) = app.with_session(&headers, |s| {
                s.steps.push(step("A", "Could not reach the authorization server", e, false))
            });
            return finish(cookie, Redirect::to("/").into_response());
        }
    };
    let url = pending.url.clone();
    let (cookie, ()) = app.with_session(&headers, |s| {
        s.steps.push(step(
            "A",
            "Authorization request: the client sent your browser to the authorization server",
            format!("GET {url}\n\nwith a random state and a PKCE code_challenge (S256); the code_verifier stays with the client."),
            true,
        ));
        s.pending = Some(pending);
    });
    finish(cookie, Redirect::to(&url).into_response())
}

/// (B)–(D) The redirect back with a code, then the code exchange.
async fn callback(State(app): State<Shared>, headers: axum::http::HeaderMap, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let (_, pending) = app.with_session(&headers, |s| s.pending.take());
    let Some(pending) = pending else {
        return Redirect::to("/").into_response();
    };
    let shown = query
        .split('&')
        .map(|kv| match kv.strip_prefix("code=") {
            Some(code) => format!("code={}", shorten(code)),
            None => kv.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    let result = match app.oauth().await {
        Ok(c) => c.finish_authorization(&pending, &query).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let (cookie, ()) = app.with_session(&headers, |s| {
        s.steps.push(step("B", "Authorization grant: the authorization server redirected back to the client", format!("GET /callback?{shown}"), true));
        match result {
            Ok(tokens) => {
                s.steps.push(step(
                    "C–D",
                    "Token request: the client traded the code (with its secret and code_verifier) for tokens",
                    format!(
                        "POST {}/token  grant_type=authorization_code\n\n{{\n  \"access_token\": \"{}\",\n  \"token_type\": \"{}\",\n  \"expires_in\": {},\n  \"refresh_token\": \"{}\",\n  \"scope\": \"{}\"\n}}",
                        app.config.issuer,
                        shorten(&tokens.access_token),
                        tokens.token_type,
                        tokens.expires_in,
                        tokens.refresh_token.as_deref().map(shorten).unwrap_or_default(),
                        tokens.scope.clone().unwrap_or_default()
                    ),
                    true,
                ));
                s.tokens = Some(tokens);
                s.obtained_at = now();
            }
            Err(e) => s.steps.push(step("C–D", "The authorization did not give tokens", e, false)),
        }
    });
    finish(cookie, Redirect::to("/").into_response())
}

/// (E)–(F) Call the protected API with the access token (or a tampered one).
async fn call(State(app): State<Shared>, headers: axum::http::HeaderMap, Path(what): Path<String>) -> Response {
    let (_, token) = app.with_session(&headers, |s| s.tokens.as_ref().map(|t| t.access_token.clone()));
    let Some(mut token) = token else {
        return Redirect::to("/").into_response();
    };
    let path = match what.as_str() {
        "profile" => "/api/profile",
        "notes" => "/api/notes",
        "tampered" => {
            // Flip one character of the signature: the resource server must notice.
            let last = if token.ends_with('A') { 'B' } else { 'A' };
            token.pop();
            token.push(last);
            "/api/profile"
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let url = format!("{}{path}", app.config.api_url);
    let result = app.http.get(&url).bearer_auth(&token).send().await;
    let entry = match result {
        Ok(res) => {
            let status = res.status();
            let challenge = res
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(|v| format!("\nWWW-Authenticate: {v}"))
                .unwrap_or_default();
            let body = res.text().await.unwrap_or_default();
            let pretty = serde_json::from_str::<serde_json::Value>(&body)
                .and_then(|v| serde_json::to_string_pretty(&v))
                .unwrap_or(body);
            let what = if what == "tampered" { " with a tampered token" } else { "" };
            step(
                "E–F",
                format!("Protected resource: GET {path}{what} → {status}"),
                format!("Authorization: Bearer {}{challenge}\n\n{pretty}", shorten(&token)),
                status.is_success(),
            )
        }
        Err(e) => step("E–F", format!("Could not reach the API at {url}"), e.to_string(), false),
    };
    let (cookie, ()) = app.with_session(&headers, |s| s.steps.push(entry));
    finish(cookie, Redirect::to("/").into_response())
}

/// (G)–(H) Use the refresh token for a new access token (and a rotated refresh token).
async fn refresh(State(app): State<Shared>, headers: axum::http::HeaderMap) -> Response {
    let (_, rt) = app.with_session(&headers, |s| s.tokens.as_ref().and_then(|t| t.refresh_token.clone()));
    let Some(rt) = rt else {
        return Redirect::to("/").into_response();
    };
    let result = match app.oauth().await {
        Ok(c) => c.refresh(&rt, None).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    let (cookie, ()) = app.with_session(&headers, |s| match result {
        Ok(tokens) => {
            s.steps.push(step(
                "G–H",
                "Refresh: the client used its refresh token and got a new access token",
                format!(
                    "POST {}/token  grant_type=refresh_token  refresh_token={}\n\nnew access_token: {}\nnew refresh_token: {} (the old one is now used up: presenting it again would revoke the whole family)",
                    app.config.issuer,
                    shorten(&rt),
                    shorten(&tokens.access_token),
                    tokens.refresh_token.as_deref().map(shorten).unwrap_or_default()
                ),
                true,
            ));
            s.tokens = Some(tokens);
            s.obtained_at = now();
        }
        Err(e) => s.steps.push(step("G–H", "Refresh failed", e, false)),
    });
    finish(cookie, Redirect::to("/").into_response())
}

async fn reset(State(app): State<Shared>, headers: axum::http::HeaderMap) -> Response {
    let (cookie, ()) = app.with_session(&headers, |s| *s = Session::default());
    finish(cookie, Redirect::to("/").into_response())
}
