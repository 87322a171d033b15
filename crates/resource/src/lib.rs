//! Bearer-token protection for resource servers (RFC 6750), validating RFC 9068 JWT
//! access tokens against the issuer's JWK Set.
//!
//! ```no_run
//! use axum::{Json, Router, routing::get};
//! use latchkey_resource::{Bearer, BearerAuth, BearerConfig, BearerError};
//!
//! async fn profile(token: Bearer) -> Result<Json<String>, BearerError> {
//!     token.require_scope("profile")?;
//!     Ok(Json(format!("hello, {}", token.claims.sub)))
//! }
//!
//! # async fn run() {
//! let auth = BearerAuth::new(BearerConfig::new("https://auth.example", "https://api.example"));
//! let app: Router = Router::new().route("/api/profile", get(profile)).with_state(auth);
//! # let _ = app;
//! # }
//! ```
#![warn(missing_docs)]

mod error;
mod extract;
mod introspection;
mod jwks;

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Validation, decode, decode_header};
use latchkey_protocol::jwt::{self, AccessTokenClaims};

pub use error::BearerError;
pub use extract::Bearer;
pub use introspection::IntrospectionConfig;

/// How a resource server validates tokens.
#[derive(Debug, Clone)]
pub struct BearerConfig {
    /// The issuer tokens must come from (`iss`).
    pub issuer: String,
    /// This resource server's identifier, required in `aud`.
    pub audience: String,
    /// Where the JWK Set lives; `None` reads it from the issuer's RFC 8414 metadata.
    pub jwks_uri: Option<String>,
    /// The `realm` of `WWW-Authenticate` challenges.
    pub realm: String,
    /// Clock skew allowed on `exp` and `nbf` (RFC 7519 §4.1.4, §4.1.5: "some small
    /// leeway"): a token is refused from `exp + leeway` on. Default 5 s. It lengthens
    /// every token's life by as much, so keep it to the skew between the clocks of the
    /// authorization server and this one; [`BearerConfig::with_leeway`] sets it.
    pub leeway: Duration,
    /// Least time between two JWKS fetches caused by an unknown `kid`.
    pub refetch_interval: Duration,
    /// Ask the authorization server (RFC 7662) instead of verifying JWTs locally: for
    /// opaque tokens, and for JWTs whose revocation must take effect at once.
    pub introspection: Option<IntrospectionConfig>,
}

impl BearerConfig {
    /// A configuration for tokens from `issuer` meant for `audience`: 5 s leeway, JWKS
    /// discovered, refetched on an unknown `kid` at most every 10 s.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> BearerConfig {
        BearerConfig {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks_uri: None,
            realm: "api".into(),
            leeway: DEFAULT_LEEWAY,
            refetch_interval: Duration::from_secs(10),
            introspection: None,
        }
    }

    /// The same configuration with another clock-skew allowance (see [`BearerConfig::leeway`]).
    pub fn with_leeway(mut self, leeway: Duration) -> BearerConfig {
        self.leeway = leeway;
        self
    }
}

/// The default [`BearerConfig::leeway`].
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// The validator: shared, cheap to clone, caching the issuer's keys.
#[derive(Clone)]
pub struct BearerAuth {
    inner: Arc<Inner>,
}

struct Inner {
    config: BearerConfig,
    keys: jwks::KeyCache,
    introspector: Option<introspection::Introspector>,
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerAuth").field("issuer", &self.inner.config.issuer).finish_non_exhaustive()
    }
}

impl BearerAuth {
    /// A validator for this configuration. Keys are fetched on first use.
    pub fn new(config: BearerConfig) -> BearerAuth {
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        let keys = jwks::KeyCache::new(&config);
        let introspector = config
            .introspection
            .clone()
            .map(|c| introspection::Introspector::new(c, &config.issuer, keys.http().clone()));
        BearerAuth { inner: Arc::new(Inner { config, keys, introspector }) }
    }

    /// The realm used in challenges.
    pub fn realm(&self) -> &str {
        &self.inner.config.realm
    }

    /// Validates a JWT access token (RFC 9068 §4): `typ`, signature by a key of the
    /// issuer, `iss`, `aud`, `exp`/`nbf` with leeway. Returns its claims.
    pub async fn validate(&self, token: &str) -> Result<AccessTokenClaims, BearerError> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
        self.validate_at(token, i64::try_from(now).unwrap_or(i64::MAX)).await
    }

    /// [`BearerAuth::validate`] at the time `now` (unix seconds).
    async fn validate_at(&self, token: &str, now: i64) -> Result<AccessTokenClaims, BearerError> {
        let realm = self.realm();
        if let Some(introspector) = &self.inner.introspector {
            return match introspector.check(token).await {
                introspection::Answer::Active(claims) => {
                    let aud = &self.inner.config.audience;
                    if !claims.aud.is_empty() && &claims.aud != aud {
                        return Err(BearerError::invalid_token(
                            realm,
                            "the token is not meant for this resource server",
                        ));
                    }
                    Ok(claims)
                }
                introspection::Answer::Inactive => Err(BearerError::invalid_token(realm, "the token is not active")),
                introspection::Answer::Unavailable(cause) => {
                    tracing::warn!(%cause, "introspection unavailable");
                    Err(BearerError::unavailable(realm))
                }
            };
        }
        let invalid = |d: &str| BearerError::invalid_token(realm, d);
        let header = decode_header(token).map_err(|_| invalid("the token is not a JWT"))?;
        // RFC 9068 §4: `typ` is `at+jwt` or `application/at+jwt`.
        jwt::check_header(header.typ.as_deref()).map_err(|e| invalid(&e.to_string()))?;
        let kid = header.kid.as_deref().ok_or_else(|| invalid("the token names no key (kid)"))?;
        let key = self.inner.keys.key(kid).await.map_err(|e| match e {
            jwks::KeyError::Unknown => invalid("the token was signed by an unknown key"),
            jwks::KeyError::Unavailable(cause) => {
                tracing::warn!(%cause, "JWKS unavailable");
                BearerError::unavailable(realm)
            }
        })?;
        // The algorithm comes from our key, never from the token (no `alg: none`, no HS256
        // with a public key as the secret).
        if header.alg != key.alg {
            return Err(invalid("the token's algorithm does not match its key"));
        }
        let c = &self.inner.config;
        let mut v = Validation::new(key.alg);
        v.leeway = c.leeway.as_secs();
        // `exp` is checked below, against `now`; `nbf` by jsonwebtoken, with the same leeway.
        v.validate_exp = false;
        v.validate_nbf = true;
        v.set_issuer(&[&c.issuer]);
        v.set_audience(&[&c.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub", "iat"]);
        let data = decode::<AccessTokenClaims>(token, &key.decoding, &v).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind as K;
            match e.kind() {
                K::ExpiredSignature => invalid("the token has expired"),
                K::ImmatureSignature => invalid("the token is not valid yet"),
                K::InvalidIssuer => invalid("the token comes from another issuer"),
                K::InvalidAudience => invalid("the token is not meant for this resource server"),
                K::InvalidSignature => invalid("the token's signature is invalid"),
                _ => invalid("the token is invalid"),
            }
        })?;
        // RFC 7519 §4.1.4: "the current date/time MUST be before the expiration date/time",
        // give or take the leeway.
        let leeway = i64::try_from(c.leeway.as_secs()).unwrap_or(i64::MAX);
        if now >= data.claims.exp.saturating_add(leeway) {
            return Err(invalid("the token has expired"));
        }
        Ok(data.claims)
    }
}

#[cfg(test)]
mod tests;
