//! Introspection mode (RFC 7662): ask the authorization server about each token, for
//! opaque tokens and for JWTs whose revocation must take effect at once. Answers, active
//! or not, are cached for a bounded time that never outlives the token's `exp`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use latchkey_protocol::client_auth::basic_header;
use latchkey_protocol::introspection::IntrospectionResponse;
use latchkey_protocol::jwt::AccessTokenClaims;
use latchkey_protocol::secret::SecretHash;

/// How to reach the introspection endpoint.
#[derive(Clone)]
pub struct IntrospectionConfig {
    /// The endpoint; `None` reads it from the issuer's metadata.
    pub endpoint: Option<String>,
    /// This resource server's client id at the authorization server.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// Longest time an answer is reused (never past the token's `exp`).
    pub cache_ttl: Duration,
    /// Most answers kept.
    pub max_entries: usize,
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl IntrospectionConfig {
    /// Introspection with a 30 s cache of at most 10,000 answers.
    pub fn new(client_id: impl Into<String>, client_secret: impl Into<String>) -> Self {
        IntrospectionConfig {
            endpoint: None,
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            cache_ttl: Duration::from_secs(30),
            max_entries: 10_000,
        }
    }
}

struct Entry {
    until: Instant,
    claims: Option<AccessTokenClaims>,
}

pub(crate) struct Introspector {
    config: IntrospectionConfig,
    issuer: String,
    http: reqwest::Client,
    endpoint: tokio::sync::OnceCell<String>,
    cache: Mutex<HashMap<SecretHash, Entry>>,
}

pub(crate) enum Answer {
    Active(AccessTokenClaims),
    Inactive,
    Unavailable(String),
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Introspector {
    pub fn new(config: IntrospectionConfig, issuer: &str, http: reqwest::Client) -> Self {
        Introspector {
            config,
            issuer: issuer.to_owned(),
            http,
            endpoint: tokio::sync::OnceCell::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn endpoint(&self) -> Result<&String, String> {
        self.endpoint
            .get_or_try_init(|| async {
                if let Some(e) = &self.config.endpoint {
                    return Ok(e.clone());
                }
                let url = format!("{}/.well-known/oauth-authorization-server", self.issuer.trim_end_matches('/'));
                let meta: serde_json::Value = self
                    .http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                meta["introspection_endpoint"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| "metadata has no introspection_endpoint".to_owned())
            })
            .await
    }

    pub async fn check(&self, token: &str) -> Answer {
        let key = SecretHash::of(token);
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(e) = cache.get(&key).filter(|e| e.until > now) {
                return match &e.claims {
                    Some(c) if c.exp > unix_now() => Answer::Active(c.clone()),
                    _ => Answer::Inactive,
                };
            }
        }
        let answer = match self.ask(token).await {
            Ok(a) => a,
            Err(e) => return Answer::Unavailable(e),
        };
        let claims = if answer.active { to_claims(answer, &self.issuer) } else { None };
        let ttl = match &claims {
            // A positive answer never outlives the token.
            Some(c) => self.config.cache_ttl.min(Duration::from_secs((c.exp - unix_now()).max(0) as u64)),
            None => self.config.cache_ttl,
        };
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= self.config.max_entries {
            cache.retain(|_, e| e.until > now);
            if cache.len() >= self.config.max_entries {
                cache.clear();
            }
        }
        cache.insert(key, Entry { until: now + ttl, claims: claims.clone() });
        match claims {
            Some(c) => Answer::Active(c),
            None => Answer::Inactive,
        }
    }

    async fn ask(&self, token: &str) -> Result<IntrospectionResponse, String> {
        let endpoint = self.endpoint().await?;
        let res = self
            .http
            .post(endpoint)
            .header(reqwest::header::AUTHORIZATION, basic_header(&self.config.client_id, &self.config.client_secret))
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("introspection answered {}", res.status()));
        }
        res.json().await.map_err(|e| e.to_string())
    }
}

/// An active access-token answer as claims; anything incomplete, foreign or expired is
/// treated as inactive.
fn to_claims(r: IntrospectionResponse, issuer: &str) -> Option<AccessTokenClaims> {
    // RFC 7662 §2.2: `token_type` is the RFC 6749 §5.1 type (case-insensitive, §5.1), and
    // only a bearer access token may be used here (RFC 6750); a refresh token has none.
    if !r.token_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return None;
    }
    if r.iss.as_deref().is_some_and(|i| i != issuer) {
        return None;
    }
    let exp = r.exp?;
    if exp <= unix_now() {
        return None;
    }
    Some(AccessTokenClaims {
        iss: r.iss.unwrap_or_else(|| issuer.to_owned()),
        sub: r.sub?.into(),
        aud: r.aud.unwrap_or_default(),
        client_id: r.client_id.unwrap_or_default().into(),
        scope: r.scope.unwrap_or_default(),
        exp,
        iat: r.iat.unwrap_or_default(),
        jti: r.jti.unwrap_or_default().into(),
        gid: None,
    })
}
