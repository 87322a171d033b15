//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Latchkey: an OAuth 2.0 authorization server, with a resource-server library, a client
/// and a demo.
#[derive(Debug, Parser)]
#[command(name = "latchkey", version, about)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE", env = "LATCHKEY_CONFIG")]
    pub config: Option<PathBuf>,
    /// Database URL: sqlite://FILE or postgres://… [default: sqlite://latchkey.db]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authorization server.
    Serve(ServeArgs),
    /// Run the authorization server, a protected demo API and a demo client on localhost.
    Demo(DemoArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Manage registered clients (RFC 6749 §2).
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Manage user accounts (resource owners).
    #[command(subcommand)]
    Users(UsersCommand),
    /// Get a token from an authorization server, as a native app (RFC 8252) or with client credentials.
    Token(TokenArgs),
    /// Write a snapshot of the database (clients, users, consents, keys, live refresh
    /// tokens) as JSON, to move an installation (for example from SQLite to PostgreSQL).
    Export {
        /// File to write (mode 0600) [default: standard output].
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Load a snapshot made by `export` into an empty database (`--database-url`).
    Import {
        /// The snapshot file.
        file: PathBuf,
    },
    /// Show the audit trail of security events, newest first.
    Audit {
        /// How many events.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Only this kind (login_failed, refresh_reuse_detected, key_rotated, …).
        #[arg(long)]
        kind: Option<String>,
        /// Print JSON lines.
        #[arg(long)]
        json: bool,
    },
    /// Manage signing keys: list, rotate, retire; rekey the secrets at rest.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Initial access tokens for dynamic client registration (`registration = "token"`).
    #[command(subcommand, name = "registration-tokens")]
    RegistrationTokens(RegistrationTokensCommand),
}

/// `keys` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List signing keys and their state.
    List,
    /// Add a new key: published now, signing after the overlap (`key_overlap`).
    Rotate {
        /// ES256, EdDSA or RS256.
        #[arg(long, default_value = "ES256")]
        alg: String,
    },
    /// Stop a key signing; it stays published until the tokens it signed expire.
    Retire {
        /// Key id.
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
    /// Re-encrypt every secret at rest (signing keys, installation secrets) from the
    /// current `key_encryption_secret` (or from plaintext, if none is set) to a new one, all
    /// in one transaction. Stop every instance first; start them with the new secret.
    Rekey {
        /// Read the new secret from the first line of standard input (otherwise it is asked
        /// for twice on the terminal). Never pass it as an argument: `ps` shows those.
        #[arg(long)]
        new_secret_stdin: bool,
    },
}

/// `registration-tokens` subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistrationTokensCommand {
    /// Create an initial access token; it is printed once.
    Create {
        /// How many registrations it allows [default: unlimited].
        #[arg(long)]
        uses: Option<i64>,
        /// Lifetime, like 3600, 90m, 12h or 7d [default: no expiry].
        #[arg(long)]
        expires: Option<String>,
    },
}

/// `serve` flags (they override the file and the environment).
#[derive(Debug, Args, Default, Clone)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub bind: Option<String>,
    /// Issuer identifier (RFC 8414) [default: http://localhost:PORT].
    #[arg(long, value_name = "URL")]
    pub issuer: Option<String>,
    /// Dynamic client registration: off, open or token [default: off].
    #[arg(long, value_name = "POLICY")]
    pub registration: Option<String>,
}

/// `demo` flags.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// First of three ports: authorization server, demo API (+1), demo client (+2).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// SQLite file of the demo.
    #[arg(long, default_value = "latchkey-demo.db")]
    pub db: PathBuf,
}

/// `clients` subcommands.
#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Register a client. Prints its id and, for a confidential client, its secret (once).
    Add {
        /// Display name, shown on the consent page.
        #[arg(long)]
        name: String,
        /// A redirect URI, compared exactly (repeat for several).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// A public client (native or browser app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// A scope the client may request (repeat; default: all scopes).
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A grant type: authorization_code, refresh_token, client_credentials (repeat).
        #[arg(long = "grant-type", value_name = "GRANT")]
        grant_types: Vec<String>,
        /// Let this confidential client skip PKCE (not recommended, RFC 9700 §2.1.1).
        #[arg(long)]
        allow_no_pkce: bool,
        /// Access token format: jwt (default) or opaque (checked by introspection).
        #[arg(long, default_value = "jwt")]
        token_format: String,
        /// A resource server: may introspect tokens issued to other clients (RFC 7662 §4).
        #[arg(long)]
        introspect: bool,
        /// Print `{"client_id":…,"client_secret":…}`.
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show one client.
    Show {
        /// Client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a client and every token issued to it.
    Remove {
        /// Client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Let a client (a resource server) introspect tokens issued to other clients, or stop
    /// it (RFC 7662 §4); every client may always introspect its own tokens.
    Introspection {
        /// Client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// `on` or `off`.
        #[arg(value_parser = ["on", "off"])]
        setting: String,
    },
    /// Give a confidential client a new secret; the old one stops working.
    RotateSecret {
        /// Client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        /// Print `{"client_id":…,"client_secret":…}`.
        #[arg(long)]
        json: bool,
    },
}

/// `users` subcommands.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password is asked for (or read from stdin).
    Add {
        /// Login name.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users.
    List,
    /// Remove a user with their sessions, consents and tokens.
    Remove {
        /// Login name.
        username: String,
    },
    /// Withdraw a user's remembered consent for a client (the next authorization asks again).
    RevokeConsent {
        /// Login name.
        username: String,
        /// Client id.
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Change a user's password.
    Passwd {
        /// Login name.
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// `token` flags.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The authorization server's issuer URL.
    #[arg(long)]
    pub issuer: String,
    /// The client id.
    #[arg(long, allow_hyphen_values = true)]
    pub client_id: String,
    /// The client secret (confidential clients).
    #[arg(long, env = "LATCHKEY_CLIENT_SECRET", hide_env_values = true, allow_hyphen_values = true)]
    pub client_secret: Option<String>,
    /// A scope to request (repeat).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub scopes: Vec<String>,
    /// Use the client credentials grant instead of a browser login.
    #[arg(long, conflicts_with = "device")]
    pub client_credentials: bool,
    /// Use the device grant (RFC 8628): show a code to enter on another screen.
    #[arg(long)]
    pub device: bool,
    /// Loopback port for the redirect (0: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Do not try to open a browser; only print the URL.
    #[arg(long)]
    pub no_browser: bool,
}
