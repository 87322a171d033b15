//! A real Latchkey server on an ephemeral port, with a fresh SQLite database and a clock
//! the test moves; and a cookie-keeping "browser" that follows the pages by hand.

use std::sync::Arc;

use latchkey_flows::{AuthServer, ManualClock, NewClient, Settings};
use latchkey_protocol::client::GrantType;
use latchkey_protocol::pkce::CodeChallenge;
use latchkey_protocol::secret::Password;
use latchkey_server::AppState;
use latchkey_store::{Store, StoreOptions};
use reqwest::StatusCode;
use serde_json::Value;

pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestServer {
    pub url: String,
    pub auth: AuthServer,
    /// The store the harness opened (and gave the server): for checks beside the use cases.
    pub store: Store,
    pub clock: ManualClock,
    pub db_url: String,
    _dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[derive(Clone, Debug)]
pub struct TestClient {
    pub id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

/// The redirect URI of [`WEB_CLIENT_ARGS`].
pub const WEB_REDIRECT: &str = "https://app.example/cb";

/// `latchkey clients add` arguments for a confidential web client allowed every grant.
pub const WEB_CLIENT_ARGS: &[&str] = &[
    "clients",
    "add",
    "--name",
    "Web",
    "--redirect-uri",
    WEB_REDIRECT,
    "--grant-type",
    "authorization_code",
    "--grant-type",
    "refresh_token",
    "--grant-type",
    "client_credentials",
    "--json",
];

impl TestClient {
    /// The client printed by `latchkey clients add --json`.
    pub fn from_cli(json: &str, redirect_uri: &str) -> TestClient {
        let creds: Value = serde_json::from_str(json).unwrap();
        TestClient {
            id: creds["client_id"].as_str().unwrap().into(),
            secret: creds["client_secret"].as_str().map(Into::into),
            redirect_uri: redirect_uri.into(),
        }
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Settings)) -> TestServer {
        let clock = ManualClock::default();
        Self::start_with_clock(tweak, Arc::new(clock.clone()), clock).await
    }

    /// A server on the system clock (for tests that wait in real time, like polling).
    pub async fn start_real_time(tweak: impl FnOnce(&mut Settings)) -> TestServer {
        Self::start_with_clock(tweak, Arc::new(latchkey_flows::SystemClock), ManualClock::default()).await
    }

    async fn start_with_clock(
        tweak: impl FnOnce(&mut Settings),
        server_clock: Arc<dyn latchkey_flows::Clock>,
        clock: ManualClock,
    ) -> TestServer {
        // Server errors show in a failing test's output.
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("error").try_init();
        let dir = tempfile::tempdir().unwrap();
        let db_url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
        let store = Store::connect(&db_url, &StoreOptions::default()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let mut settings = Settings::new(url.clone());
        tweak(&mut settings);
        let auth = AuthServer::new(store.clone(), settings, server_clock).await.unwrap();
        let state = AppState::new(auth.clone()).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(latchkey_server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        TestServer { url, auth, store, clock, db_url, _dir: dir, shutdown: Some(tx) }
    }

    pub async fn client_with(&self, req: NewClient) -> TestClient {
        let redirect_uri = req.redirect_uris.first().cloned().unwrap_or_default();
        let issued = self.auth.add_client(req).await.unwrap();
        TestClient { id: issued.client.id.into(), secret: issued.secret.map(|s| s.expose().to_owned()), redirect_uri }
    }

    /// A confidential client with code, refresh and client-credentials grants.
    pub async fn confidential_client(&self) -> TestClient {
        self.client_with(NewClient {
            name: "Test <App>".into(),
            redirect_uris: vec!["https://app.example/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials],
            ..NewClient::default()
        })
        .await
    }

    /// A resource server: a confidential client the operator allowed to introspect every
    /// token (RFC 7662 §4).
    pub async fn resource_server(&self) -> TestClient {
        self.client_with(NewClient {
            name: "Resource server".into(),
            grant_types: vec![GrantType::ClientCredentials],
            may_introspect: true,
            ..NewClient::default()
        })
        .await
    }

    pub async fn public_client(&self) -> TestClient {
        self.client_with(NewClient {
            name: "Native App".into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            public: true,
            ..NewClient::default()
        })
        .await
    }

    pub async fn user(&self, name: &str) {
        self.auth.add_user(name, &Password::new(PASSWORD)).await.unwrap();
    }

    pub fn browser(&self) -> Browser {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        Browser { http, base: self.url.clone() }
    }

    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap()
    }

    /// POST /token with a form and optional Basic credentials.
    pub async fn token(&self, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http().post(format!("{}/token", self.url));
        let mut form: Vec<(&str, &str)> = form.to_vec();
        match &client.secret {
            Some(secret) => req = req.basic_auth(&client.id, Some(secret)),
            None => form.push(("client_id", &client.id)),
        }
        req.form(&form).send().await.unwrap()
    }

    /// Runs the browser part of the code flow for `client` and returns the code.
    pub async fn code_for(&self, client: &TestClient, user: &str) -> String {
        let browser = self.browser();
        let location = browser.authorize(&authorize_query(client, &[]), user).await;
        param(&location, "code").expect("a code in the redirect")
    }

    /// Code flow up to the token response.
    pub async fn tokens_for(&self, client: &TestClient, user: &str) -> Value {
        let code = self.code_for(client, user).await;
        let res = self
            .token(
                client,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &client.redirect_uri),
                    ("code_verifier", VERIFIER),
                ],
            )
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }
}

/// A standard authorization request query for a client, with overrides (empty value = remove).
pub fn authorize_query(client: &TestClient, overrides: &[(&str, &str)]) -> String {
    let challenge = CodeChallenge::s256(VERIFIER);
    let mut pairs: Vec<(String, String)> = vec![
        ("response_type".into(), "code".into()),
        ("client_id".into(), client.id.clone()),
        ("redirect_uri".into(), client.redirect_uri.clone()),
        ("state".into(), "st@te/1 2".into()),
        ("code_challenge".into(), challenge.as_str().into()),
        ("code_challenge_method".into(), "S256".into()),
    ];
    for (k, v) in overrides {
        pairs.retain(|(n, _)| n != k);
        if !v.is_empty() {
            pairs.push(((*k).into(), (*v).into()));
        }
    }
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").expect("a Location header").to_str().unwrap().to_owned()
}

pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

/// The value of a hidden input in a page, unescaped.
pub fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(unescape(&html[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&#x2f;", "/")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        let url = if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.base) };
        self.http.get(url).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http.post(format!("{}{path}", self.base)).form(form).send().await.unwrap()
    }

    /// Submits the login form found on `page`.
    pub async fn login(&self, page: &str, username: &str, password: &str) -> reqwest::Response {
        let csrf = field(page, "csrf").expect("csrf field");
        let return_to = field(page, "return_to").unwrap_or_default();
        self.post(
            "/login",
            &[("csrf", &csrf), ("return_to", &return_to), ("username", username), ("password", password)],
        )
        .await
    }

    /// Submits the consent form found on `page`.
    pub async fn decide(&self, page: &str, decision: &str) -> reqwest::Response {
        let csrf = field(page, "csrf").expect("csrf field");
        let request = field(page, "request").expect("request field");
        self.post("/consent", &[("csrf", &csrf), ("request", &request), ("decision", decision)]).await
    }

    /// The whole browser dance: authorize, log in if asked, allow if asked. Returns the
    /// final redirect to the client.
    pub async fn authorize(&self, query: &str, user: &str) -> String {
        let mut res = self.get(&format!("/authorize?{query}")).await;
        for _ in 0..4 {
            match res.status() {
                StatusCode::FOUND | StatusCode::SEE_OTHER => {
                    let loc = location(&res);
                    if loc.starts_with('/') {
                        res = self.get(&loc).await;
                        continue;
                    }
                    return loc;
                }
                StatusCode::OK => {
                    let page = res.text().await.unwrap();
                    res = if page.contains("name=\"password\"") {
                        self.login(&page, user, PASSWORD).await
                    } else {
                        self.decide(&page, "allow").await
                    };
                }
                other => panic!("unexpected status {other}: {}", res.text().await.unwrap()),
            }
        }
        panic!("authorization did not finish");
    }
}

/// Decodes a JWT's header and claims without verifying (tests only).
pub fn jwt_parts(token: &str) -> (Value, Value) {
    use base64::Engine;
    let mut it = token.split('.');
    let dec =
        |s: &str| serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (dec(it.next().unwrap()), dec(it.next().unwrap()))
}

pub async fn error_code(res: reqwest::Response) -> String {
    let v: Value = res.json().await.unwrap();
    v["error"].as_str().unwrap_or_default().to_owned()
}
