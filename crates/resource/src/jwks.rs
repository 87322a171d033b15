//! The issuer's keys, fetched once, cached, and refetched on an unknown `kid` no more often
//! than the configured interval.
//!
//! The fetch runs outside any lock the known keys are read under: while one is in
//! progress (the authorization server may be slow), tokens signed by a known key are
//! validated as before. One fetch at a time: requests naming an unknown `kid` wait for
//! the fetch in progress and look at its result instead of starting their own.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};

use crate::BearerConfig;

#[derive(Clone)]
pub struct Key {
    pub decoding: DecodingKey,
    pub alg: Algorithm,
}

pub enum KeyError {
    Unknown,
    Unavailable(String),
}

/// What the last fetch left.
#[derive(Default)]
struct Known {
    keys: Arc<HashMap<String, Key>>,
    fetched_at: Option<Instant>,
    /// Why the last fetch failed, if it did (its keys are those of the fetch before).
    failure: Option<String>,
}

pub struct KeyCache {
    http: reqwest::Client,
    issuer: String,
    refetch_interval: Duration,
    known: RwLock<Arc<Known>>,
    /// Held by the one fetch in progress; holds the JWKS URI once known.
    fetching: tokio::sync::Mutex<Option<String>>,
}

impl KeyCache {
    pub fn new(config: &BearerConfig) -> KeyCache {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .no_proxy()
            .build()
            .unwrap_or_default();
        KeyCache {
            http,
            issuer: config.issuer.clone(),
            refetch_interval: config.refetch_interval,
            known: RwLock::new(Arc::default()),
            fetching: tokio::sync::Mutex::new(config.jwks_uri.clone()),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    fn known(&self) -> Arc<Known> {
        self.known.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub async fn key(&self, kid: &str) -> Result<Key, KeyError> {
        // A known key never waits for a fetch.
        if let Some(k) = self.known().keys.get(kid) {
            return Ok(k.clone());
        }
        let mut jwks_uri = self.fetching.lock().await;
        // A fetch may have finished while this request waited for its turn.
        let known = self.known();
        if let Some(k) = known.keys.get(kid) {
            return Ok(k.clone());
        }
        let may_fetch = known.fetched_at.is_none_or(|t| t.elapsed() >= self.refetch_interval);
        if !may_fetch {
            return Err(match &known.failure {
                Some(cause) => KeyError::Unavailable(cause.clone()),
                None => KeyError::Unknown,
            });
        }
        let fetched = self.fetch(&mut jwks_uri).await;
        let fetched_at = Some(Instant::now());
        let (next, answer) = match fetched {
            Ok(keys) => {
                let answer = keys.get(kid).cloned().ok_or(KeyError::Unknown);
                (Known { keys: Arc::new(keys), fetched_at, failure: None }, answer)
            }
            // Keep serving the keys of the last good fetch.
            Err(cause) => (
                Known { keys: known.keys.clone(), fetched_at, failure: Some(cause.clone()) },
                Err(KeyError::Unavailable(cause)),
            ),
        };
        *self.known.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        answer
    }

    async fn fetch(&self, jwks_uri: &mut Option<String>) -> Result<HashMap<String, Key>, String> {
        let uri = match jwks_uri {
            Some(u) => u.clone(),
            None => {
                let url = format!("{}/.well-known/oauth-authorization-server", self.issuer.trim_end_matches('/'));
                let meta: serde_json::Value = self.get_json(&url).await?;
                let uri = meta["jwks_uri"].as_str().ok_or("metadata has no jwks_uri")?.to_owned();
                *jwks_uri = Some(uri.clone());
                uri
            }
        };
        let set: JwkSet = serde_json::from_value(self.get_json(&uri).await?).map_err(|e| format!("bad JWKS: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), algorithm_of(jwk)) else {
                continue;
            };
            if let Ok(decoding) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, Key { decoding, alg });
            }
        }
        Ok(keys)
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, String> {
        let res = self.http.get(url).send().await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("{url} answered {}", res.status()));
        }
        res.json().await.map_err(|e| e.to_string())
    }
}

/// The algorithm a key is for: its `alg`, else what its type implies. Only asymmetric
/// algorithms are accepted.
fn algorithm_of(jwk: &jsonwebtoken::jwk::Jwk) -> Option<Algorithm> {
    let alg = match jwk.common.key_algorithm {
        Some(KeyAlgorithm::ES256) => Algorithm::ES256,
        Some(KeyAlgorithm::ES384) => Algorithm::ES384,
        Some(KeyAlgorithm::RS256) => Algorithm::RS256,
        Some(KeyAlgorithm::RS384) => Algorithm::RS384,
        Some(KeyAlgorithm::RS512) => Algorithm::RS512,
        Some(KeyAlgorithm::PS256) => Algorithm::PS256,
        Some(KeyAlgorithm::EdDSA) => Algorithm::EdDSA,
        Some(_) => return None,
        None => match &jwk.algorithm {
            AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
            _ => return None,
        },
    };
    Some(alg)
}
