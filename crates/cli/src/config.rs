//! Configuration: defaults, then the TOML file, then `LATCHKEY_*` variables, then flags.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use latchkey_flows::{KeyPolicy, LoginLimits, RegistrationPolicy, ScopeDefinition, Settings};
use latchkey_protocol::Scope;
use latchkey_protocol::metadata::validate_issuer;
use latchkey_store::StoreOptions;
use serde::{Deserialize, Serialize};

use crate::cli::ServeArgs;

/// Every setting, as the file spells it (the variables are `LATCHKEY_` + upper case).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Listen address.
    pub bind: String,
    /// Address of the metrics listener (`GET /metrics`, Prometheus format); absent: not served.
    pub metrics_bind: Option<String>,
    /// Issuer identifier; default `http://localhost:PORT`.
    pub issuer: Option<String>,
    /// Database URL.
    pub database_url: String,
    /// `aud` of access tokens; default the issuer.
    pub audience: Option<String>,
    /// Authorization code lifetime, seconds (1–60).
    pub code_ttl: i64,
    /// Access token lifetime, seconds.
    pub access_token_ttl: i64,
    /// Refresh token lifetime, seconds.
    pub refresh_token_ttl: i64,
    /// Login session lifetime, seconds.
    pub session_ttl: i64,
    /// Database pool size.
    pub max_connections: u32,
    /// Client (HTTP) connections open at once; absent: sized to the open-file limit.
    pub max_client_connections: Option<usize>,
    /// Seconds a request waits for a database connection.
    pub acquire_timeout: u64,
    /// Longest seconds a database statement may run (PostgreSQL).
    pub statement_timeout: u64,
    /// Scopes offered, each with its consent sentence.
    pub scopes: Vec<ScopeDefinition>,
    /// Dynamic client registration: `off`, `open` or `token` (RFC 7591).
    pub registration: String,
    /// Scopes dynamic registration may grant for user-approved grants (and gives a
    /// registration that names none); absent: every scope offered.
    pub registration_default_scopes: Option<Vec<String>>,
    /// Scopes dynamically registered clients may obtain through client_credentials.
    pub registration_client_credentials_scopes: Vec<String>,
    /// Seconds a rotated-in key is published before it signs.
    pub key_overlap: i64,
    /// Secret that encrypts signing keys at rest.
    pub key_encryption_secret: Option<String>,
    /// Device code lifetime, seconds (RFC 8628).
    pub device_code_ttl: i64,
    /// Device polling interval, seconds (RFC 8628).
    pub device_poll_interval: i64,
    /// Seconds between reloads of the signing keys from the database.
    pub key_reload_interval: i64,
    /// Failed logins allowed per username per window.
    pub login_max_failures: i64,
    /// Failed logins allowed per client address per window.
    pub login_max_failures_per_address: i64,
    /// Length of the failed-login window, seconds.
    pub login_failure_window: i64,
    /// Seconds in which a rotated refresh token may be retried for the same successor (0: off).
    pub refresh_grace_period: i64,
    /// Seconds a client registration is reused before it is read again (0: every time).
    pub client_cache_ttl: i64,
    /// Password checks that may wait for a hashing thread (absent: 8 per thread); beyond
    /// it a login is answered 503 with `Retry-After`.
    pub password_hash_queue: Option<usize>,
    /// Seconds audit events are kept before the janitor deletes them.
    pub audit_retention: i64,
}

/// Keys read from the environment (others with the prefix, like test switches, are ignored).
const ENV_KEYS: &[&str] = &[
    "bind",
    "metrics_bind",
    "issuer",
    "database_url",
    "audience",
    "code_ttl",
    "access_token_ttl",
    "refresh_token_ttl",
    "session_ttl",
    "max_connections",
    "max_client_connections",
    "acquire_timeout",
    "statement_timeout",
    "registration",
    "key_overlap",
    "key_encryption_secret",
    "device_code_ttl",
    "device_poll_interval",
    "key_reload_interval",
    "login_max_failures",
    "login_max_failures_per_address",
    "login_failure_window",
    "refresh_grace_period",
    "client_cache_ttl",
    "password_hash_queue",
    "audit_retention",
];

impl Default for Config {
    fn default() -> Self {
        let s = Settings::new("http://localhost:8080");
        Config {
            bind: "127.0.0.1:8080".into(),
            metrics_bind: None,
            issuer: None,
            database_url: "sqlite://latchkey.db".into(),
            audience: None,
            code_ttl: s.code_ttl,
            access_token_ttl: s.access_token_ttl,
            refresh_token_ttl: s.refresh_token_ttl,
            session_ttl: s.session_ttl,
            max_connections: 16,
            max_client_connections: None,
            acquire_timeout: 3,
            statement_timeout: 10,
            scopes: s.scopes,
            registration: "off".into(),
            registration_default_scopes: None,
            registration_client_credentials_scopes: s.registration_client_credentials_scopes,
            key_overlap: s.keys.overlap,
            key_encryption_secret: None,
            device_code_ttl: s.device_code_ttl,
            device_poll_interval: s.device_poll_interval,
            key_reload_interval: s.keys.reload_every,
            login_max_failures: s.login_limits.per_user,
            login_max_failures_per_address: s.login_limits.per_address,
            login_failure_window: s.login_limits.window,
            refresh_grace_period: s.refresh_grace_period,
            client_cache_ttl: s.client_cache_ttl,
            password_hash_queue: s.password_hash_queue,
            audit_retention: s.audit_retention,
        }
    }
}

#[derive(Serialize)]
struct Overrides<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    bind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    registration: Option<&'a str>,
}

impl Config {
    /// Loads and checks the configuration. A file named on the command line must exist.
    pub fn load(file: Option<&Path>, database_url: Option<&str>, serve: &ServeArgs) -> anyhow::Result<Config> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            if !path.exists() {
                bail!("config: file {} does not exist", path.display());
            }
            fig = fig.merge(Toml::file_exact(path));
        }
        fig = fig
            .merge(Env::prefixed("LATCHKEY_").filter(|k| ENV_KEYS.iter().any(|e| k.as_str().eq_ignore_ascii_case(e))))
            .merge(Serialized::defaults(Overrides {
                bind: serve.bind.as_deref(),
                issuer: serve.issuer.as_deref(),
                database_url,
                registration: serve.registration.as_deref(),
            }));
        let config: Config = fig.extract().map_err(|e| anyhow!("{}", one_line(&e)))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> anyhow::Result<()> {
        self.bind_addr()?;
        self.metrics_addr()?;
        let issuer = self.issuer();
        validate_issuer(&issuer).with_context(|| format!("issuer `{issuer}`"))?;
        if !(1..=60).contains(&self.code_ttl) {
            bail!("code_ttl: must be 1 to 60 seconds (authorization codes are short-lived, RFC 6749 §4.1.2)");
        }
        for (name, v) in [
            ("access_token_ttl", self.access_token_ttl),
            ("refresh_token_ttl", self.refresh_token_ttl),
            ("session_ttl", self.session_ttl),
            ("device_code_ttl", self.device_code_ttl),
            ("device_poll_interval", self.device_poll_interval),
            ("key_reload_interval", self.key_reload_interval),
            ("login_max_failures", self.login_max_failures),
            ("login_max_failures_per_address", self.login_max_failures_per_address),
            ("login_failure_window", self.login_failure_window),
            ("audit_retention", self.audit_retention),
        ] {
            if v <= 0 {
                bail!("{name}: must be a positive number of seconds");
            }
        }
        self.registration_policy()?;
        if self.client_cache_ttl < 0 {
            bail!("client_cache_ttl: must be zero or more seconds");
        }
        if self.refresh_grace_period < 0 {
            bail!("refresh_grace_period: must be zero or more seconds");
        }
        if self.key_overlap < 0 {
            bail!("key_overlap: must be zero or more seconds");
        }
        if self.key_encryption_secret.as_ref().is_some_and(|s| s.len() < 16) {
            bail!("key_encryption_secret: use at least 16 characters");
        }
        let lists = [
            ("registration_default_scopes", self.registration_default_scopes.as_deref().unwrap_or_default()),
            ("registration_client_credentials_scopes", &self.registration_client_credentials_scopes),
        ];
        for (setting, list) in lists {
            for name in list {
                if !self.scopes.iter().any(|s| &s.name == name) {
                    bail!("{setting}: `{name}` is not one of the scopes");
                }
            }
        }
        if self.password_hash_queue == Some(0) {
            bail!("password_hash_queue: must be at least 1 (or absent for 8 per hashing thread)");
        }
        if self.max_connections == 0 {
            bail!("max_connections: must be at least 1");
        }
        if self.max_client_connections == Some(0) {
            bail!("max_client_connections: must be at least 1");
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.scopes {
            let parsed = Scope::parse(&s.name)
                .map_err(|_| anyhow!("scopes: `{}` is not a valid scope token (RFC 6749 §3.3)", s.name))?;
            if parsed.iter().count() != 1 {
                bail!("scopes: `{}` must be one token without spaces", s.name);
            }
            if !seen.insert(s.name.clone()) {
                bail!("scopes: `{}` is listed twice", s.name);
            }
            if s.description.trim().is_empty() {
                bail!("scopes: `{}` needs a description for the consent page", s.name);
            }
        }
        Ok(())
    }

    /// The listen address.
    pub fn bind_addr(&self) -> anyhow::Result<SocketAddr> {
        self.bind.parse().map_err(|_| anyhow!("bind: `{}` is not an address like 127.0.0.1:8080", self.bind))
    }

    /// The metrics listen address, if metrics are served.
    pub fn metrics_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        self.metrics_bind
            .as_deref()
            .map(|a| a.parse().map_err(|_| anyhow!("metrics_bind: `{a}` is not an address like 127.0.0.1:9090")))
            .transpose()
    }

    /// The issuer: configured, or `http://localhost:PORT` from the bind address.
    pub fn issuer(&self) -> String {
        match &self.issuer {
            Some(i) => i.trim_end_matches('/').to_owned(),
            None => format!("http://localhost:{}", self.bind_addr().map(|a| a.port()).unwrap_or(8080)),
        }
    }

    /// The registration policy.
    pub fn registration_policy(&self) -> anyhow::Result<RegistrationPolicy> {
        self.registration.parse().map_err(|e| anyhow!("registration: {e}"))
    }

    /// Settings of the authorization server.
    pub fn settings(&self) -> Settings {
        let issuer = self.issuer();
        Settings {
            keys: KeyPolicy {
                overlap: self.key_overlap,
                encryption_secret: self.key_encryption_secret.clone(),
                reload_every: self.key_reload_interval,
                ..KeyPolicy::default()
            },
            registration: self.registration_policy().unwrap_or_default(),
            registration_default_scopes: self.registration_default_scopes.clone(),
            registration_client_credentials_scopes: self.registration_client_credentials_scopes.clone(),
            device_code_ttl: self.device_code_ttl,
            device_poll_interval: self.device_poll_interval,
            refresh_grace_period: self.refresh_grace_period,
            client_cache_ttl: self.client_cache_ttl,
            password_hash_queue: self.password_hash_queue,
            audit_retention: self.audit_retention,
            login_limits: LoginLimits {
                per_user: self.login_max_failures,
                per_address: self.login_max_failures_per_address,
                window: self.login_failure_window,
            },
            audience: self.audience.clone().unwrap_or_else(|| issuer.clone()),
            issuer,
            code_ttl: self.code_ttl,
            access_token_ttl: self.access_token_ttl,
            refresh_token_ttl: self.refresh_token_ttl,
            session_ttl: self.session_ttl,
            scopes: self.scopes.clone(),
        }
    }

    /// Connection limits of the listener.
    pub fn serve_options(&self) -> latchkey_server::ServeOptions {
        let max_client_connections = self
            .max_client_connections
            .unwrap_or_else(|| crate::limits::client_connections(crate::limits::open_files(), self.max_connections));
        latchkey_server::ServeOptions { max_client_connections, ..latchkey_server::ServeOptions::default() }
    }

    /// Store options.
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            max_connections: self.max_connections,
            acquire_timeout: Duration::from_secs(self.acquire_timeout),
            statement_timeout: Duration::from_secs(self.statement_timeout),
        }
    }
}

fn one_line(e: &figment::Error) -> String {
    e.to_string().replace('\n', " ")
}
