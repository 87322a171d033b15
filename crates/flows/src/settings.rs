//! What an operator configures for the authorization server.

use latchkey_protocol::Scope;

use crate::keys::KeyPolicy;

/// Who may register clients at `POST /register` (RFC 7591).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegistrationPolicy {
    /// No dynamic registration: the endpoint does not exist.
    #[default]
    Off,
    /// Anyone may register.
    Open,
    /// Only holders of an initial access token (`latchkey registration-tokens create`).
    Token,
}

impl std::str::FromStr for RegistrationPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(RegistrationPolicy::Off),
            "open" => Ok(RegistrationPolicy::Open),
            "token" => Ok(RegistrationPolicy::Token),
            other => Err(format!("`{other}` is not off, open or token")),
        }
    }
}

/// A scope the server offers, with the sentence the consent page shows for it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ScopeDefinition {
    /// The scope token (RFC 6749 §3.3).
    pub name: String,
    /// What approving it lets the client do, in words.
    pub description: String,
}

/// Authorization server settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Issuer identifier (RFC 8414 §2): an https URL (http on localhost) with no query or fragment.
    pub issuer: String,
    /// `aud` of access tokens (RFC 9068 §3): the resource server(s) they are for.
    pub audience: String,
    /// Authorization code lifetime; at most 60 s (RFC 6749 §4.1.2 recommends 10 minutes at most).
    pub code_ttl: i64,
    /// Access token lifetime.
    pub access_token_ttl: i64,
    /// Refresh token lifetime (from issue; rotation gives each successor the same end).
    pub refresh_token_ttl: i64,
    /// Login session lifetime.
    pub session_ttl: i64,
    /// The scopes the server knows.
    pub scopes: Vec<ScopeDefinition>,
    /// Signing key rotation and encryption at rest.
    pub keys: KeyPolicy,
    /// Dynamic client registration (RFC 7591).
    pub registration: RegistrationPolicy,
    /// The scopes dynamic registration (RFC 7591) may grant for the grants a user approves
    /// (code, device, refresh), and what a registration that names none gets; `None`:
    /// every scope offered.
    pub registration_default_scopes: Option<Vec<String>>,
    /// The scopes a dynamically registered client may obtain through `client_credentials`,
    /// where no user approves anything (RFC 7591 §5: the server decides what a
    /// self-registered client may do). Empty by default: such a client gets no token.
    pub registration_client_credentials_scopes: Vec<String>,
    /// Device code lifetime (RFC 8628 §3.2 `expires_in`).
    pub device_code_ttl: i64,
    /// Minimum polling interval (RFC 8628 §3.2 `interval`).
    pub device_poll_interval: i64,
    /// Failed-login limits.
    pub login_limits: LoginLimits,
    /// Seconds in which a just-rotated refresh token may be presented again and get the
    /// same successor (lost responses, two tabs at once). 0, the default, detects reuse at
    /// once (RFC 9700 §4.14.2): a grace period also lets a thief who replays a stolen token
    /// right after the client used it go undetected for that long.
    pub refresh_grace_period: i64,
    /// Seconds a client registration read from the store is reused (0: read every time).
    /// A change made elsewhere (the CLI, another instance) takes effect within this time.
    pub client_cache_ttl: i64,
    /// Password checks that may wait for a hashing thread; past it a login is answered
    /// "busy, retry" without checking the password. `None`: 8 per hashing thread.
    pub password_hash_queue: Option<usize>,
    /// Seconds audit events are kept; the janitor deletes older ones.
    pub audit_retention: i64,
}

/// How many failed logins are allowed in a window: per username from one client address
/// (a hard limit), per client address (a hard limit), and per username from any address
/// (past `per_user`, a growing delay between attempts, never a lock-out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginLimits {
    /// Failures per username per client address per window; also the failures per
    /// username (from any address) after which attempts are spaced out.
    pub per_user: i64,
    /// Failures per client address per window.
    pub per_address: i64,
    /// Window length, seconds.
    pub window: i64,
}

impl Default for LoginLimits {
    fn default() -> Self {
        LoginLimits { per_user: 5, per_address: 50, window: 900 }
    }
}

impl Settings {
    /// Defaults for an issuer: 60 s codes, 10 min access tokens, 30 day refresh tokens,
    /// 12 h sessions, and the scopes `profile`, `notes:read`, `notes:write`.
    pub fn new(issuer: impl Into<String>) -> Settings {
        let issuer = issuer.into();
        Settings {
            audience: issuer.clone(),
            issuer,
            code_ttl: 60,
            access_token_ttl: 600,
            refresh_token_ttl: 30 * 24 * 3600,
            session_ttl: 12 * 3600,
            scopes: default_scopes(),
            keys: KeyPolicy::default(),
            registration: RegistrationPolicy::Off,
            registration_default_scopes: None,
            registration_client_credentials_scopes: Vec::new(),
            device_code_ttl: 600,
            device_poll_interval: 5,
            login_limits: LoginLimits::default(),
            refresh_grace_period: 0,
            client_cache_ttl: 1,
            password_hash_queue: None,
            audit_retention: 90 * 24 * 3600,
        }
    }

    /// Every scope the server knows, as a set.
    pub fn scope_set(&self) -> Scope {
        Scope::from_tokens(self.scopes.iter().map(|s| s.name.clone()))
    }

    /// The scopes a client may obtain with `client_credentials`: a dynamically registered
    /// one only those the operator listed for it (RFC 7591 §5).
    pub fn client_credentials_scopes(&self, client: &latchkey_protocol::client::Client) -> Scope {
        let offered = self.scope_set();
        if client.registered_dynamically {
            offered.intersection(&Scope::from_tokens(self.registration_client_credentials_scopes.iter().cloned()))
        } else {
            offered
        }
    }

    /// The consent sentence of a scope (its name when it has none).
    pub fn describe(&self, scope: &str) -> String {
        self.scopes.iter().find(|s| s.name == scope).map(|s| s.description.clone()).unwrap_or_else(|| scope.to_owned())
    }
}

/// The scopes offered when the configuration names none.
pub fn default_scopes() -> Vec<ScopeDefinition> {
    [
        ("profile", "See your username and profile"),
        ("notes:read", "Read your notes"),
        ("notes:write", "Create and change your notes"),
    ]
    .into_iter()
    .map(|(name, description)| ScopeDefinition { name: name.into(), description: description.into() })
    .collect()
}
