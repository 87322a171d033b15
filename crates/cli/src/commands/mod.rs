//! One module per command.

mod admin;
mod serve;
mod token;

use std::sync::Arc;

use anyhow::Context;
use latchkey_flows::{AuthServer, Clock, SystemClock};
use latchkey_store::Store;

use crate::cli::{Cli, Command, KeysCommand, ServeArgs};
use crate::config::Config;

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    init_logging();
    let serve_args = match &cli.command {
        Command::Serve(a) => a.clone(),
        _ => ServeArgs::default(),
    };
    match cli.command {
        Command::Token(args) => token::run(args).await,
        Command::Demo(args) => crate::demo::run(args).await,
        command => {
            let config = Config::load(cli.config.as_deref(), cli.database_url.as_deref(), &serve_args)?;
            match command {
                Command::Serve(_) => serve::run(config).await,
                Command::Migrate => {
                    let store = open_store(&config).await?;
                    store.close().await;
                    println!("database is up to date: {}", redact_url(&config.database_url));
                    Ok(())
                }
                Command::Clients(c) => admin::clients(&auth_server(&config).await?, c).await,
                Command::Users(c) => admin::users(&auth_server(&config).await?, c).await,
                Command::Export { output } => {
                    let store = open_store(&config).await?;
                    let snapshot = store.export(latchkey_flows::SystemClock.now()).await?;
                    let json = serde_json::to_string_pretty(&snapshot)?;
                    match output {
                        Some(path) => write_private(&path, &json)?,
                        None => println!("{json}"),
                    }
                    eprintln!(
                        "exported {} clients, {} users, {} consents, {} keys, {} refresh tokens; the file holds password and secret hashes and private keys: keep it safe",
                        snapshot.clients.len(),
                        snapshot.users.len(),
                        snapshot.consents.len(),
                        snapshot.signing_keys.len(),
                        snapshot.refresh_tokens.len()
                    );
                    Ok(())
                }
                Command::Import { file } => {
                    let text =
                        std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
                    let snapshot: latchkey_store::Snapshot =
                        serde_json::from_str(&text).context("not a Latchkey snapshot")?;
                    let store = open_store(&config).await?;
                    store.import(&snapshot).await.context("import")?;
                    println!(
                        "imported {} clients, {} users, {} consents, {} keys, {} refresh tokens into {}",
                        snapshot.clients.len(),
                        snapshot.users.len(),
                        snapshot.consents.len(),
                        snapshot.signing_keys.len(),
                        snapshot.refresh_tokens.len(),
                        redact_url(&config.database_url)
                    );
                    Ok(())
                }
                Command::Audit { limit, kind, json } => {
                    admin::audit(&auth_server(&config).await?, limit, kind, json).await
                }
                Command::Keys(KeysCommand::Rekey { new_secret_stdin }) => admin::rekey(&config, new_secret_stdin).await,
                Command::Keys(c) => admin::keys(&auth_server(&config).await?, c).await,
                Command::RegistrationTokens(c) => admin::registration_tokens(&auth_server(&config).await?, c).await,
                Command::Token(_) | Command::Demo(_) => Ok(()),
            }
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LATCHKEY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// Opens (creating and migrating) the configured database.
pub async fn open_store(config: &Config) -> anyhow::Result<Store> {
    Store::connect(&config.database_url, &config.store_options())
        .await
        .with_context(|| format!("database_url `{}`", redact_url(&config.database_url)))
}

/// The authorization server of a configuration.
pub async fn auth_server(config: &Config) -> anyhow::Result<AuthServer> {
    auth_server_on(open_store(config).await?, config).await
}

/// The authorization server of a configuration, on a store already open.
pub async fn auth_server_on(store: Store, config: &Config) -> anyhow::Result<AuthServer> {
    Ok(AuthServer::new(store, config.settings(), Arc::new(SystemClock)).await?)
}

/// Writes a file only its owner can read.
fn write_private(path: &std::path::Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

/// A database URL with any password hidden.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => url.to_owned(),
    }
}
