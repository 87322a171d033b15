//! The jsonwebtoken crypto provider: aws-lc, keeping parsed ES256 and Ed25519 signing keys.
//!
//! jsonwebtoken builds a signer from the key's PKCS#8 bytes on every `encode`, and aws-lc
//! checks the key pair each time it parses one (a scalar multiplication, as costly as
//! the signature itself: 16 % of a `client_credentials` request in the profile). This
//! provider is jsonwebtoken's own extension point: for ES256 and EdDSA it keeps the parsed
//! key pair, keyed by a digest of the key bytes, and signs with it through aws-lc; the JWS
//! encoding stays jsonwebtoken's. Every other algorithm, and all verification, is
//! jsonwebtoken's aws-lc provider unchanged.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, aws_lc};
use jsonwebtoken::errors::{ErrorKind, Result};
use jsonwebtoken::signature::{Error as SignatureError, Signer};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey};
use sha2::{Digest, Sha256};

/// Parsed keys kept at most; past it the cache starts over (keys are few: the signing key
/// and those in their publication window).
const MAX_KEYS: usize = 64;

pub(crate) static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: signer,
    verifier_factory: aws_lc::DEFAULT_PROVIDER.verifier_factory,
    key_utils: aws_lc::DEFAULT_PROVIDER.key_utils.clone(),
});

#[derive(Clone)]
enum KeyPair {
    Es256(Arc<EcdsaKeyPair>),
    EdDsa(Arc<Ed25519KeyPair>),
}

static PARSED: LazyLock<RwLock<HashMap<[u8; 32], KeyPair>>> = LazyLock::new(|| RwLock::new(HashMap::new()));

fn signer(alg: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>> {
    let (wanted, family) = match alg {
        Algorithm::ES256 => (Algorithm::ES256, AlgorithmFamily::Ec),
        Algorithm::EdDSA => (Algorithm::EdDSA, AlgorithmFamily::Ed),
        _ => return (aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key),
    };
    if key.family() != family {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let id: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    if let Some(pair) = PARSED.read().unwrap_or_else(|p| p.into_inner()).get(&id) {
        return Ok(Box::new(CachedSigner(pair.clone())));
    }
    let pair = match wanted {
        Algorithm::ES256 => KeyPair::Es256(Arc::new(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, key.as_bytes())
                .map_err(|_| ErrorKind::InvalidEcdsaKey)?,
        )),
        _ => KeyPair::EdDsa(Arc::new(
            Ed25519KeyPair::from_pkcs8(key.as_bytes()).map_err(|_| ErrorKind::InvalidEddsaKey)?,
        )),
    };
    let mut parsed = PARSED.write().unwrap_or_else(|p| p.into_inner());
    if parsed.len() >= MAX_KEYS {
        parsed.clear();
    }
    parsed.insert(id, pair.clone());
    Ok(Box::new(CachedSigner(pair)))
}

struct CachedSigner(KeyPair);

impl Signer<Vec<u8>> for CachedSigner {
    fn try_sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, SignatureError> {
        match &self.0 {
            KeyPair::Es256(pair) => {
                Ok(pair.sign(&SystemRandom::new(), msg).map_err(|_| SignatureError::new())?.as_ref().to_vec())
            }
            KeyPair::EdDsa(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for CachedSigner {
    fn algorithm(&self) -> Algorithm {
        match self.0 {
            KeyPair::Es256(_) => Algorithm::ES256,
            KeyPair::EdDsa(_) => Algorithm::EdDSA,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{KeyAlg, generate_for_tests};
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{DecodingKey, Header, Validation};

    #[test]
    fn cached_signers_make_tokens_the_standard_verifier_accepts_again_and_again() {
        crate::keys::install_crypto_provider();
        for (alg, jose) in [(KeyAlg::Es256, Algorithm::ES256), (KeyAlg::EdDsa, Algorithm::EdDSA)] {
            let der = generate_for_tests(alg);
            let key = match alg {
                KeyAlg::Es256 => EncodingKey::from_ec_der(&der),
                _ => EncodingKey::from_ed_der(&der),
            };
            let decoding = DecodingKey::from_jwk(&Jwk::from_encoding_key(&key, jose).unwrap()).unwrap();
            let mut validation = Validation::new(jose);
            validation.required_spec_claims.clear();
            for n in 0..3 {
                // The first signature parses the key; the next ones reuse it.
                let claims = serde_json::json!({ "n": n });
                let token = jsonwebtoken::encode(&Header::new(jose), &claims, &key).unwrap();
                let back = jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
                assert_eq!(back.claims["n"], n);
            }
            let id: [u8; 32] = Sha256::digest(&der).into();
            assert!(PARSED.read().unwrap().contains_key(&id));
        }
    }

    #[test]
    fn a_key_of_another_family_is_refused() {
        let ec = EncodingKey::from_ec_der(&generate_for_tests(KeyAlg::Es256));
        assert!(signer(&Algorithm::EdDSA, &ec).is_err());
        let ed = EncodingKey::from_ed_der(&generate_for_tests(KeyAlg::EdDsa));
        assert!(signer(&Algorithm::ES256, &ed).is_err());
        assert!(signer(&Algorithm::ES256, &EncodingKey::from_ec_der(b"not a key")).is_err());
    }
}
