//! Signing keys for JWT access tokens (RFC 9068), kept in the store and published as a
//! JWK Set (RFC 7517). ES256 by default.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use latchkey_protocol::UnixTime;
use latchkey_protocol::jwt::{ACCESS_TOKEN_TYP, AccessTokenClaims};
use latchkey_store::{SigningKeyRow, Store, StoreError};

use crate::{FlowError, secrets};

/// Installs aws-lc as jsonwebtoken's crypto provider (DEPENDENCIES pitfall 1). Idempotent.
pub fn install_crypto_provider() {
    // Err means a provider is installed already, which is what we want.
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
}

struct SigningKey {
    kid: String,
    encoding: EncodingKey,
}

/// The key that signs, and the public keys that verify.
pub struct KeyRing {
    active: SigningKey,
    jwks: JwkSet,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("active_kid", &self.active.kid)
            .finish_non_exhaustive()
    }
}

fn crypto(e: impl std::fmt::Display) -> FlowError {
    FlowError::Crypto(e.to_string())
}

impl KeyRing {
    /// Loads the store's keys; on a store with none, generates an ES256 key and stores it.
    pub async fn load_or_create(store: &Store, now: UnixTime) -> Result<KeyRing, FlowError> {
        install_crypto_provider();
        let mut rows = store.signing_keys().await?;
        if rows.is_empty() {
            let row = generate_es256(now)?;
            match store.insert_signing_key(&row).await {
                Ok(()) | Err(StoreError::Conflict) => {}
                Err(e) => return Err(e.into()),
            }
            rows = store.signing_keys().await?;
        }
        let mut jwks = JwkSet { keys: Vec::new() };
        let mut active = None;
        for row in rows {
            if row.alg != "ES256" {
                return Err(crypto(format!(
                    "key {}: unsupported algorithm {}",
                    row.kid, row.alg
                )));
            }
            let encoding = EncodingKey::from_ec_der(&row.private_der);
            let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).map_err(crypto)?;
            jwk.common.key_id = Some(row.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwk.common.key_algorithm = Some(KeyAlgorithm::ES256);
            probe(&encoding, &jwk)?;
            jwks.keys.push(jwk);
            // Rows come newest first: the newest key signs.
            if active.is_none() {
                active = Some(SigningKey {
                    kid: row.kid,
                    encoding,
                });
            }
        }
        let active = active.ok_or_else(|| crypto("no signing key"))?;
        Ok(KeyRing { active, jwks })
    }

    /// The public keys, as served at the JWKS endpoint.
    pub fn jwks(&self) -> &JwkSet {
        &self.jwks
    }

    /// Signs an access token (RFC 9068 §2.1: `typ` is `at+jwt`, `kid` names the key).
    pub fn sign(&self, claims: &AccessTokenClaims) -> Result<String, FlowError> {
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(self.active.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.active.encoding).map_err(crypto)
    }
}

fn generate_es256(now: UnixTime) -> Result<SigningKeyRow, FlowError> {
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
            .map_err(crypto)?;
    Ok(SigningKeyRow {
        kid: secrets::new_id()?,
        alg: "ES256".into(),
        private_der: pkcs8.as_ref().to_vec(),
        created_at: now,
        retired_at: None,
    })
}

/// `from_*_der` does not validate a key: sign and verify a probe token whenever one is loaded
/// (DEPENDENCIES pitfall 2).
fn probe(key: &EncodingKey, jwk: &Jwk) -> Result<(), FlowError> {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Probe {
        probe: bool,
    }
    let token = jsonwebtoken::encode(&Header::new(Algorithm::ES256), &Probe { probe: true }, key)
        .map_err(crypto)?;
    let mut validation = Validation::new(Algorithm::ES256);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    let decoding = DecodingKey::from_jwk(jwk).map_err(crypto)?;
    jsonwebtoken::decode::<Probe>(&token, &decoding, &validation)
        .map_err(|e| crypto(format!("key probe failed: {e}")))?;
    Ok(())
}
