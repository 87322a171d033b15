//! The authorization server's use cases, with no HTTP: authorize, log in, consent, each
//! grant at the token endpoint, and the administration of clients and users.
//!
//! Every use case reads the store, applies the pure rules of `latchkey-protocol`, and
//! writes the store. Time comes from a [`Clock`]; randomness from the OS ([`secrets`]).
#![warn(missing_docs)]

mod admin;
mod at_rest;
pub mod audit;
mod authorize;
mod client_cache;
mod clock;
mod code_seal;
mod device;
mod error;
mod grants;
mod hashing;
mod housekeeping;
mod introspect;
mod jose_provider;
mod keys;
mod login;
mod register;
mod revoke;
pub mod secrets;
mod settings;
mod token;
mod verified_tokens;

use std::sync::Arc;

use latchkey_store::Store;

pub use admin::{NewClient, NewClientIssued};
pub use at_rest::rekey;
pub use authorize::{AuthorizeOutcome, Decision};
pub use clock::{Clock, ManualClock, SystemClock};
pub use device::{DeviceDecided, UserCodeCheck, format_user_code, normalise_user_code};
pub use error::FlowError;
#[doc(hidden)]
#[cfg(feature = "test-hooks")]
pub use hashing::HashingHold;
pub use housekeeping::{JANITOR_PERIOD, next_janitor_run};
pub use keys::{KeyAlg, KeyPolicy, KeyRing, warm_up_crypto};
pub use login::LoginError;
pub use register::{RegisterError, Registered};
pub use settings::{LoginLimits, RegistrationPolicy, ScopeDefinition, Settings};

/// The authorization server: store, settings, signing keys and clock.
#[derive(Clone)]
pub struct AuthServer {
    store: Store,
    settings: Arc<Settings>,
    keys: Arc<KeyRing>,
    clock: Arc<dyn Clock>,
    hashing: hashing::HashingPool,
    clients: Arc<client_cache::ClientCache>,
    refresh_key: Arc<aws_lc_rs::hmac::Key>,
    codes: Arc<code_seal::CodeSeal>,
}

impl AuthServer {
    /// Builds the server, loading the signing keys (and creating the first one if the
    /// store has none).
    pub async fn new(store: Store, settings: Settings, clock: Arc<dyn Clock>) -> Result<AuthServer, FlowError> {
        let mut settings = settings;
        // A retired key stays published while tokens it signed may still be live.
        settings.keys.publish_after_retire = settings.keys.publish_after_retire.max(settings.access_token_ttl);
        let encryption_secret = settings.keys.encryption_secret.as_deref();
        // With the operator's secret, whatever is still stored in plaintext is encrypted
        // now, before anything reads it; a secret that does not open what is stored stops here.
        if let Some(secret) = encryption_secret {
            let sealed = at_rest::seal_plaintext(&store, secret).await?;
            if sealed > 0 {
                tracing::info!(sealed, "encrypted secrets stored in plaintext with key_encryption_secret");
            }
        }
        let keys = KeyRing::load_or_create(&store, settings.keys.clone(), clock.now()).await?;
        // The key that derives refresh-token successors, the same on every instance.
        let key_bytes =
            at_rest::installation_secret(&store, "refresh_successor_key", encryption_secret, clock.now()).await?;
        let refresh_key = Arc::new(aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, &key_bytes));
        let codes = code_seal::CodeSeal::load(&store, encryption_secret, clock.now()).await?;
        let hashing = hashing::HashingPool::start(settings.password_hash_queue)?;
        Ok(AuthServer {
            store,
            clients: Arc::new(client_cache::ClientCache::new(settings.client_cache_ttl)),
            settings: Arc::new(settings),
            keys: Arc::new(keys),
            clock,
            hashing,
            refresh_key,
            codes: Arc::new(codes),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The signing keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The current time, unix seconds.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Whether the store answers (for readiness checks).
    pub async fn ping(&self) -> Result<(), FlowError> {
        Ok(self.store.ping().await?)
    }
}
