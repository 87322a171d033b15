//! Configuration: defaults, then the TOML file, then `LATCHKEY_*` variables, then flags.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use latchkey_flows::{RegistrationPolicy, ScopeDefinition, Settings};
use latchkey_protocol::Scope;
use latchkey_protocol::metadata::validate_issuer;
use latchkey_store::StoreOptions;
use serde::{Deserialize, Serialize};

use crate::cli::ServeArgs;

/// Declares the settings, each once: its field (named as the file spells it; the variable
/// is `LATCHKEY_` + upper case), its default, and where it goes in the server's
/// [`Settings`]. A setting of the server (`=> path`) takes its default from
/// [`Settings::new`] and is copied to that path; one of the binary alone (`= default`)
/// says its default. `, file_only` keeps a list out of the environment.
macro_rules! config {
    (@env) => { true };
    (@env file_only) => { false };
    ($(
        $(#[doc = $doc:expr])*
        $name:ident: $ty:ty $(= $default:expr)? $(=> $($path:ident).+)? $(, $only:ident)?;
    )*) => {
        /// Every setting, as the file spells it (the variables are `LATCHKEY_` + upper case).
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Config {
            $($(#[doc = $doc])* pub $name: $ty,)*
        }

        impl Default for Config {
            fn default() -> Self {
                let server = Settings::new("http://localhost:8080");
                Config { $($name: $($default)? $(Clone::clone(&server.$($path).+))?,)* }
            }
        }

        /// Every key, and whether a `LATCHKEY_` variable sets it (others with the prefix,
        /// like test switches, are ignored).
        const KEYS: &[(&str, bool)] = &[$((stringify!($name), config!(@env $($only)?)),)*];

        impl Config {
            /// Copies every setting of the server to `settings`.
            fn copy_to(&self, settings: &mut Settings) {
                $($(settings.$($path).+ = Clone::clone(&self.$name);)?)*
            }
        }
    };
}

config! {
    /// Listen address.
    bind: String = "127.0.0.1:8080".into();
    /// Address of the metrics listener (`GET /metrics`, Prometheus format); absent: not served.
    metrics_bind: Option<String> = None;
    /// Issuer identifier; default `http://localhost:PORT`.
    issuer: Option<String> = None;
    /// Database URL.
    database_url: String = "sqlite://latchkey.db".into();
    /// `aud` of access tokens; default the issuer.
    audience: Option<String> = None;
    /// Authorization code lifetime, seconds (1–60).
    code_ttl: i64 => code_ttl;
    /// Access token lifetime, seconds.
    access_token_ttl: i64 => access_token_ttl;
    /// Refresh token lifetime, seconds.
    refresh_token_ttl: i64 => refresh_token_ttl;
    /// Login session lifetime, seconds.
    session_ttl: i64 => session_ttl;
    /// Database pool size.
    max_connections: u32 = 16;
    /// Client (HTTP) connections open at once; absent: sized to the open-file limit.
    max_client_connections: Option<usize> = None;
    /// Seconds a request waits for a database connection.
    acquire_timeout: u64 = 3;
    /// Longest seconds a database statement may run (PostgreSQL).
    statement_timeout: u64 = 10;
    /// Scopes offered, each with its consent sentence.
    scopes: Vec<ScopeDefinition> => scopes, file_only;
    /// Dynamic client registration: `off`, `open` or `token` (RFC 7591).
    registration: String = "off".into();
    /// Scopes dynamic registration may grant for user-approved grants (and gives a
    /// registration that names none); absent: every scope offered.
    registration_default_scopes: Option<Vec<String>> => registration_default_scopes, file_only;
    /// Scopes dynamically registered clients may obtain through client_credentials.
    registration_client_credentials_scopes: Vec<String> => registration_client_credentials_scopes, file_only;
    /// Seconds a rotated-in key is published before it signs.
    key_overlap: i64 => keys.overlap;
    /// Secret that encrypts signing keys at rest.
    key_encryption_secret: Option<String> => keys.encryption_secret;
    /// Device code lifetime, seconds (RFC 8628).
    device_code_ttl: i64 => device_code_ttl;
    /// Device polling interval, seconds (RFC 8628).
    device_poll_interval: i64 => device_poll_interval;
    /// Seconds between reloads of the signing keys from the database.
    key_reload_interval: i64 => keys.reload_every;
    /// Failed logins allowed per username per window.
    login_max_failures: i64 => login_limits.per_user;
    /// Failed logins allowed per client address per window.
    login_max_failures_per_address: i64 => login_limits.per_address;
    /// Length of the failed-login window, seconds.
    login_failure_window: i64 => login_limits.window;
    /// Seconds in which a rotated refresh token may be retried for the same successor (0: off).
    refresh_grace_period: i64 => refresh_grace_period;
    /// Seconds a client registration is reused before it is read again (0: every time).
    client_cache_ttl: i64 => client_cache_ttl;
    /// Password checks that may wait for a hashing thread (absent: 8 per thread); beyond
    /// it a login is answered 503 with `Retry-After`.
    password_hash_queue: Option<usize> => password_hash_queue;
    /// Seconds audit events are kept before the janitor deletes them.
    audit_retention: i64 => audit_retention;
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
            .merge(
                Env::prefixed("LATCHKEY_")
                    .filter(|k| KEYS.iter().any(|&(key, from_env)| from_env && k.as_str().eq_ignore_ascii_case(key))),
            )
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
        let mut settings = Settings::new(issuer.clone());
        self.copy_to(&mut settings);
        settings.audience = self.audience.clone().unwrap_or(issuer);
        settings.registration = self.registration_policy().unwrap_or_default();
        settings
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_configuration_gives_the_default_settings() {
        let settings = Config::default().settings();
        assert_eq!(format!("{settings:?}"), format!("{:?}", Settings::new("http://localhost:8080")));
    }

    #[test]
    fn every_setting_is_copied_to_the_server_settings() {
        let config = Config {
            code_ttl: 30,
            key_overlap: 7,
            key_encryption_secret: Some("a secret of sixteen".into()),
            key_reload_interval: 11,
            login_max_failures: 3,
            login_max_failures_per_address: 4,
            login_failure_window: 5,
            password_hash_queue: Some(2),
            registration_default_scopes: Some(vec!["profile".into()]),
            audience: Some("https://api.example".into()),
            registration: "token".into(),
            ..Config::default()
        };
        let s = config.settings();
        assert_eq!((s.code_ttl, s.keys.overlap, s.keys.reload_every), (30, 7, 11));
        assert_eq!(s.keys.encryption_secret.as_deref(), Some("a secret of sixteen"));
        assert_eq!(s.login_limits, latchkey_flows::LoginLimits { per_user: 3, per_address: 4, window: 5 });
        assert_eq!(s.password_hash_queue, Some(2));
        assert_eq!(s.registration_default_scopes, Some(vec!["profile".to_owned()]));
        assert_eq!(s.audience, "https://api.example");
        assert_eq!(s.registration, RegistrationPolicy::Token);
    }

    #[test]
    fn lists_are_set_in_the_file_only() {
        let file_only: Vec<&str> = KEYS.iter().filter(|(_, env)| !env).map(|(k, _)| *k).collect();
        assert_eq!(file_only, ["scopes", "registration_default_scopes", "registration_client_credentials_scopes"]);
        assert_eq!(KEYS.len(), 29);
    }
}
