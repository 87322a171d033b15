//! `latchkey demo`: RFC 6749's Figure 1 on one machine. An authorization server, a
//! protected demo API (a resource server using `latchkey-resource`) and a demo client web
//! app (using `latchkey-client`), on localhost, with a demo user and a registered client.

mod api;
mod client_app;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use latchkey_flows::{AuthServer, NewClient, Settings, SystemClock};
use latchkey_protocol::secret::Password;
use latchkey_server::AppState;
use latchkey_store::{Store, StoreOptions};
use tokio::net::TcpListener;

use crate::cli::DemoArgs;

/// The demo user.
pub const DEMO_USER: &str = "demo";
/// The demo user's password.
pub const DEMO_PASSWORD: &str = "demo-password";
const DEMO_CLIENT_NAME: &str = "Latchkey Demo Client";

/// A running demo.
pub struct DemoHandle {
    /// The authorization server's issuer URL.
    pub issuer: String,
    /// The demo API.
    pub api_url: String,
    /// The demo client: open this in a browser.
    pub client_url: String,
    shutdown: tokio::sync::watch::Sender<bool>,
    authorization_server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    store: Store,
}

impl DemoHandle {
    /// Stops the three servers.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    /// Stops the three servers, lets the authorization server finish its requests in
    /// flight, and closes its store (on SQLite that folds the write-ahead log back into
    /// the database file).
    pub async fn shutdown(mut self) {
        self.stop();
        if let Some(server) = self.authorization_server.take() {
            let _ = server.await;
        }
        self.store.close().await;
    }
}

impl Drop for DemoHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn bind(port: u16) -> anyhow::Result<(TcpListener, u16)> {
    let l = TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("port {port} is taken; try `latchkey demo --port N`"))?;
    let p = l.local_addr()?.port();
    Ok((l, p))
}

/// Starts the demo on three consecutive ports from `port` (0: any free ports) with its
/// SQLite database at `db`, and an access-token lifetime short enough to watch expire.
pub async fn start(port: u16, db: &Path, access_token_ttl: i64) -> anyhow::Result<DemoHandle> {
    let next = |n: u16| if port == 0 { 0 } else { port + n };
    let (as_listener, as_port) = bind(port).await?;
    let (api_listener, api_port) = bind(next(1)).await?;
    let (client_listener, client_port) = bind(next(2)).await?;
    let issuer = format!("http://localhost:{as_port}");
    let api_url = format!("http://localhost:{api_port}");
    let client_url = format!("http://localhost:{client_port}");

    let store = Store::connect(&format!("sqlite://{}", db.display()), &StoreOptions::default())
        .await
        .context("demo database")?;
    let mut settings = Settings::new(issuer.clone());
    settings.audience = api_url.clone();
    settings.access_token_ttl = access_token_ttl;
    // The demo lets anyone register a client (RFC 7591) to try it out.
    settings.registration = latchkey_flows::RegistrationPolicy::Open;
    let auth = AuthServer::new(store.clone(), settings, Arc::new(SystemClock)).await?;

    // Seed the demo user and a fresh registration of the demo client.
    let password = Password::new(DEMO_PASSWORD);
    if auth.users().await?.iter().any(|u| u.username == DEMO_USER) {
        auth.set_password(DEMO_USER, &password).await?;
    } else {
        auth.add_user(DEMO_USER, &password).await?;
    }
    for old in auth.clients().await?.into_iter().filter(|c| c.name == DEMO_CLIENT_NAME) {
        auth.delete_client(old.id.as_str()).await?;
    }
    let issued = auth
        .add_client(NewClient {
            name: DEMO_CLIENT_NAME.into(),
            redirect_uris: vec![format!("{client_url}/callback")],
            ..NewClient::default()
        })
        .await?;
    let secret = issued.secret.map(|s| s.expose().to_owned());

    let (tx, rx) = tokio::sync::watch::channel(false);
    let stop = move || {
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|v| *v).await;
        }
    };
    crate::lifecycle::spawn_janitor(auth.clone());
    let authorization_server = tokio::spawn(latchkey_server::serve(as_listener, AppState::new(auth)?, stop()));
    let api = api::router(&issuer, &api_url);
    let api_stop = stop();
    tokio::spawn(async move { axum::serve(api_listener, api).with_graceful_shutdown(api_stop).await });
    let app = client_app::router(client_app::Config {
        issuer: issuer.clone(),
        api_url: api_url.clone(),
        client_url: client_url.clone(),
        client_id: issued.client.id.to_string(),
        client_secret: secret,
    })?;
    let app_stop = stop();
    tokio::spawn(async move { axum::serve(client_listener, app).with_graceful_shutdown(app_stop).await });
    Ok(DemoHandle {
        issuer,
        api_url,
        client_url,
        shutdown: tx,
        authorization_server: Some(authorization_server),
        store,
    })
}

/// `latchkey demo`.
pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let demo = start(args.port, &args.db, 60).await?;
    println!(
        "\nLatchkey demo is running.\n\n  Open the demo client:     {}\n  Log in as:                {DEMO_USER} / {DEMO_PASSWORD}\n\n  Authorization server:     {}  (metadata: {}/.well-known/oauth-authorization-server)\n  Protected demo API:       {}/api/profile (scope profile), {}/api/notes (scope notes:read)\n  Database:                 {}\n\nAccess tokens live 60 seconds here, so you can watch one expire. Ctrl-C stops the demo.",
        demo.client_url,
        demo.issuer,
        demo.issuer,
        demo.api_url,
        demo.api_url,
        args.db.display()
    );
    crate::lifecycle::shutdown_signal().await;
    demo.shutdown().await;
    Ok(())
}
