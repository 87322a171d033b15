//! The issuer's keys, fetched once, cached, and refetched on an unknown `kid` no more often
//! than the configured interval.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::RwLock;

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

struct State {
    keys: HashMap<String, Key>,
    fetched_at: Option<Instant>,
    jwks_uri: Option<String>,
}

pub struct KeyCache {
    http: reqwest::Client,
    issuer: String,
    refetch_interval: Duration,
    state: RwLock<State>,
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
            state: RwLock::new(State { keys: HashMap::new(), fetched_at: None, jwks_uri: config.jwks_uri.clone() }),
        }
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn key(&self, kid: &str) -> Result<Key, KeyError> {
        // Every request reads; only a miss takes the write lock (and then looks again,
        // since another request may have fetched meanwhile).
        if let Some(k) = self.state.read().await.keys.get(kid) {
            return Ok(k.clone());
        }
        let mut state = self.state.write().await;
        if let Some(k) = state.keys.get(kid) {
            return Ok(k.clone());
        }
        let may_fetch = state.fetched_at.is_none_or(|t| t.elapsed() >= self.refetch_interval);
        if !may_fetch {
            return Err(KeyError::Unknown);
        }
        let result = self.fetch(&mut state).await;
        state.fetched_at = Some(Instant::now());
        result?;
        state.keys.get(kid).cloned().ok_or(KeyError::Unknown)
    }

    async fn fetch(&self, state: &mut State) -> Result<(), KeyError> {
        let uri = match &state.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let url = format!("{}/.well-known/oauth-authorization-server", self.issuer.trim_end_matches('/'));
                let meta: serde_json::Value = self.get_json(&url).await?;
                let uri = meta["jwks_uri"]
                    .as_str()
                    .ok_or_else(|| KeyError::Unavailable("metadata has no jwks_uri".into()))?
                    .to_owned();
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let set: JwkSet = serde_json::from_value(self.get_json(&uri).await?)
            .map_err(|e| KeyError::Unavailable(format!("bad JWKS: {e}")))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), algorithm_of(jwk)) else {
                continue;
            };
            if let Ok(decoding) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, Key { decoding, alg });
            }
        }
        state.keys = keys;
        Ok(())
    }

    async fn get_json(&self, url: &str) -> Result<serde_json::Value, KeyError> {
        let res = self.http.get(url).send().await.map_err(|e| KeyError::Unavailable(e.to_string()))?;
        if !res.status().is_success() {
            return Err(KeyError::Unavailable(format!("{url} answered {}", res.status())));
        }
        res.json().await.map_err(|e| KeyError::Unavailable(e.to_string()))
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
