//! Signing keys for JWT access tokens (RFC 9068), kept in the store and published as a
//! JWK Set (RFC 7517), with rotation: a new key is published before it signs, and a
//! retired key stays published until every token it signed has expired.
//!
//! Design note: `docs/design/signing-keys.md`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::hkdf;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use base64::Engine;
use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use latchkey_protocol::UnixTime;
use latchkey_protocol::jwt::{self, ACCESS_TOKEN_TYP, AccessTokenClaims};
use latchkey_store::{SigningKeyRow, Store, StoreError};

use crate::verified_tokens::{self, VerifiedTokens};
use crate::{FlowError, secrets};

/// Installs aws-lc as jsonwebtoken's crypto provider (DEPENDENCIES pitfall 1). Idempotent.
pub fn install_crypto_provider() {
    // Err means a provider is installed already (by the embedding program): it is used.
    let _ = crate::jose_provider::PROVIDER.install_default();
}

/// A JOSE signing algorithm Latchkey can generate keys for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlg {
    /// ECDSA P-256 (the default: small, fast, universally supported).
    Es256,
    /// Ed25519.
    EdDsa,
    /// RSA 2048 PKCS#1 v1.5 (the most compatible; required by OIDC).
    Rs256,
}

impl KeyAlg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyAlg::Es256 => "ES256",
            KeyAlg::EdDsa => "EdDSA",
            KeyAlg::Rs256 => "RS256",
        }
    }

    fn jose(self) -> (Algorithm, KeyAlgorithm) {
        match self {
            KeyAlg::Es256 => (Algorithm::ES256, KeyAlgorithm::ES256),
            KeyAlg::EdDsa => (Algorithm::EdDSA, KeyAlgorithm::EdDSA),
            KeyAlg::Rs256 => (Algorithm::RS256, KeyAlgorithm::RS256),
        }
    }
}

impl std::str::FromStr for KeyAlg {
    type Err = FlowError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "ES256" => Ok(KeyAlg::Es256),
            "EdDSA" => Ok(KeyAlg::EdDsa),
            "RS256" => Ok(KeyAlg::Rs256),
            other => Err(FlowError::Admin(format!("algorithm `{other}` is not ES256, EdDSA or RS256"))),
        }
    }
}

/// How keys are used over time.
#[derive(Clone)]
pub struct KeyPolicy {
    /// Seconds a new key is published before it signs (at least the JWKS cache time).
    pub overlap: i64,
    /// Seconds a retired key stays published: the longest access token lifetime.
    pub publish_after_retire: i64,
    /// Seconds between reloads of the key set from the store (other instances' rotations).
    pub reload_every: i64,
    /// Secret that encrypts private keys at rest (AES-256-GCM, key derived with HKDF).
    pub encryption_secret: Option<String>,
}

impl std::fmt::Debug for KeyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPolicy")
            .field("overlap", &self.overlap)
            .field("encrypted", &self.encryption_secret.is_some())
            .finish()
    }
}

impl Default for KeyPolicy {
    fn default() -> Self {
        KeyPolicy { overlap: 600, publish_after_retire: 600, reload_every: 30, encryption_secret: None }
    }
}

struct Signer {
    kid: String,
    alg: Algorithm,
    encoding: EncodingKey,
}

/// The keys as loaded at one moment.
struct KeySet {
    loaded_at: UnixTime,
    signer: Option<Signer>,
    jwks: JwkSet,
    verifiers: HashMap<String, (DecodingKey, Algorithm)>,
    /// Tokens these keys verified; handed on to the next set while no key is withdrawn.
    verified: Arc<VerifiedTokens>,
}

/// Least seconds between two reloads caused by a token naming an unknown `kid`. Within
/// it such a token is simply not verified: random `kid`s cannot make every request read
/// the key table.
const UNKNOWN_KID_RELOAD_INTERVAL: i64 = 1;

/// The key that signs, and the public keys that verify, reloaded from the store so that
/// every instance follows a rotation.
pub struct KeyRing {
    store: Store,
    policy: KeyPolicy,
    set: RwLock<Arc<KeySet>>,
    /// Held by the one reload in progress (single flight).
    reloading: tokio::sync::Mutex<()>,
    /// Reloads from the store so far.
    reloads: AtomicU64,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing").field("policy", &self.policy).finish_non_exhaustive()
    }
}

fn crypto(e: impl std::fmt::Display) -> FlowError {
    FlowError::Crypto(e.to_string())
}

/// AES-256-GCM key derived from the operator's secret.
fn kek(secret: &str) -> Result<LessSafeKey, FlowError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"latchkey signing-key encryption v1").extract(secret.as_bytes());
    let okm = prk.expand(&[b"aes-256-gcm"], &AES_256_GCM).map_err(crypto)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

/// Encrypts `plain` with the operator's secret (for storage), bound to the name `kid`.
pub(crate) fn seal_at_rest(secret: &str, kid: &str, plain: &[u8]) -> Result<Vec<u8>, FlowError> {
    let mut nonce = [0u8; NONCE_LEN];
    secrets::fill_random(&mut nonce)?;
    let mut data = plain.to_vec();
    kek(secret)?
        .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(kid.as_bytes()), &mut data)
        .map_err(crypto)?;
    Ok([nonce.as_slice(), &data].concat())
}

/// Decrypts what [`seal_at_rest`] made with the same secret and name.
pub(crate) fn open_at_rest(secret: &str, kid: &str, sealed: &[u8]) -> Result<Vec<u8>, FlowError> {
    if sealed.len() < NONCE_LEN {
        return Err(crypto(format!("key {kid}: stored key is too short")));
    }
    let (nonce, data) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(crypto)?;
    let mut data = data.to_vec();
    let plain = kek(secret)?.open_in_place(nonce, Aad::from(kid.as_bytes()), &mut data).map_err(|_| {
        crypto(format!(
            "key {kid}: cannot decrypt it with this key_encryption_secret (to change the secret, run \
                 `latchkey keys rekey` with the one in use)"
        ))
    })?;
    Ok(plain.to_vec())
}

fn encoding_key(alg: KeyAlg, der: &[u8]) -> Result<EncodingKey, FlowError> {
    Ok(match alg {
        KeyAlg::Es256 => EncodingKey::from_ec_der(der),
        KeyAlg::EdDsa => EncodingKey::from_ed_der(der),
        // `from_rsa_der` wants PKCS#1; aws-lc gives PKCS#8, which the PEM path accepts.
        KeyAlg::Rs256 => {
            let b64 = base64::engine::general_purpose::STANDARD.encode(der);
            let lines: Vec<&str> =
                b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
            let pem = format!("-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n", lines.join("\n"));
            EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(crypto)?
        }
    })
}

/// Generates a key (PKCS#8 DER) for an algorithm.
fn generate(alg: KeyAlg) -> Result<Vec<u8>, FlowError> {
    let rng = SystemRandom::new();
    Ok(match alg {
        KeyAlg::Es256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(crypto)?.as_ref().to_vec()
        }
        // PKCS#8 v1: v2 makes `Jwk::from_encoding_key` fail (DEPENDENCIES pitfall 2).
        KeyAlg::EdDsa => Ed25519KeyPair::generate_pkcs8v1(&rng).map_err(crypto)?.as_ref().to_vec(),
        KeyAlg::Rs256 => {
            let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).map_err(crypto)?;
            pair.as_der().map_err(crypto)?.as_ref().to_vec()
        }
    })
}

/// `from_*_der` does not validate a key (DEPENDENCIES pitfall 2), so every loaded key is
/// parsed by aws-lc too, which checks that the public part matches the private part.
///
/// A sign-and-verify probe would check as much but draws randomness, and aws-lc's first
/// draw in a process seeds its DRBG with jitter entropy (about 45 ms here): start-up does
/// not wait for that; [`warm_up_crypto`] pays it after the listener is up.
fn validate(alg: KeyAlg, der: &[u8]) -> Result<(), FlowError> {
    let checked = match alg {
        KeyAlg::Es256 => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der).map(drop).map_err(crypto),
        KeyAlg::EdDsa => Ed25519KeyPair::from_pkcs8(der).map(drop).map_err(crypto),
        KeyAlg::Rs256 => aws_lc_rs::rsa::KeyPair::from_pkcs8(der).map(drop).map_err(crypto),
    };
    checked.map_err(|e| crypto(format!("signing key check failed: {e}")))
}

/// Seeds aws-lc's random generator (jitter entropy, tens of milliseconds once per
/// process) so the first token request does not pay for it. Blocking: call it on a
/// blocking thread.
pub fn warm_up_crypto() {
    let mut bytes = [0u8; 16];
    let _ = aws_lc_rs::rand::fill(&mut bytes);
}

/// A new private key (PKCS#8 DER), for tests elsewhere in the crate.
#[cfg(test)]
pub(crate) fn generate_for_tests(alg: KeyAlg) -> Vec<u8> {
    generate(alg).unwrap_or_default()
}

#[cfg(test)]
fn probe(key: &EncodingKey, alg: Algorithm, decoding: &DecodingKey) -> Result<(), FlowError> {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Probe {
        probe: bool,
    }
    let token = jsonwebtoken::encode(&Header::new(alg), &Probe { probe: true }, key).map_err(crypto)?;
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    jsonwebtoken::decode::<Probe>(&token, decoding, &validation)
        .map_err(|e| crypto(format!("key probe failed: {e}")))?;
    Ok(())
}

impl KeyRing {
    /// Loads the store's keys; on a store with none, generates an ES256 key (signing at
    /// once) and stores it.
    pub async fn load_or_create(store: &Store, policy: KeyPolicy, now: UnixTime) -> Result<KeyRing, FlowError> {
        install_crypto_provider();
        let ring = KeyRing {
            store: store.clone(),
            policy,
            set: RwLock::new(Arc::new(KeySet::empty())),
            reloading: tokio::sync::Mutex::new(()),
            reloads: AtomicU64::new(0),
        };
        if store.signing_keys(now - ring.policy.publish_after_retire).await?.iter().all(|k| k.retired_at.is_some()) {
            match ring.add_key(KeyAlg::Es256, now, now).await {
                Ok(_) | Err(FlowError::Store(StoreError::Conflict)) => {}
                Err(e) => return Err(e),
            }
        }
        ring.reload(now).await?;
        Ok(ring)
    }

    async fn add_key(&self, alg: KeyAlg, activates_at: UnixTime, now: UnixTime) -> Result<String, FlowError> {
        let kid = secrets::new_id()?;
        let der = generate(alg)?;
        let (private_der, encrypted) = match &self.policy.encryption_secret {
            Some(secret) => (seal_at_rest(secret, &kid, &der)?, true),
            None => (der, false),
        };
        let row = SigningKeyRow {
            kid: kid.clone(),
            alg: alg.as_str().into(),
            private_der,
            created_at: now,
            retired_at: None,
            activates_at,
            encrypted,
        };
        self.store.insert_signing_key(&row).await?;
        Ok(kid)
    }

    /// Reads the published keys from the store and picks the signer: the newest active
    /// (activation reached, not retired) key.
    async fn reload(&self, now: UnixTime) -> Result<Arc<KeySet>, FlowError> {
        self.reloads.fetch_add(1, Ordering::Relaxed);
        let previous = self.loaded();
        let rows = self.store.signing_keys(now - self.policy.publish_after_retire).await?;
        let mut set = KeySet { loaded_at: now, ..KeySet::empty() };
        for row in rows {
            let alg: KeyAlg = row.alg.parse()?;
            let der = if row.encrypted {
                let secret = self
                    .policy
                    .encryption_secret
                    .as_deref()
                    .ok_or_else(|| crypto(format!("key {} is encrypted: set key_encryption_secret", row.kid)))?;
                open_at_rest(secret, &row.kid, &row.private_der)?
            } else {
                row.private_der.clone()
            };
            let encoding = encoding_key(alg, &der)?;
            let (jose_alg, key_alg) = alg.jose();
            let mut jwk = Jwk::from_encoding_key(&encoding, jose_alg).map_err(crypto)?;
            jwk.common.key_id = Some(row.kid.clone());
            jwk.common.public_key_use = Some(PublicKeyUse::Signature);
            jwk.common.key_algorithm = Some(key_alg);
            let decoding = DecodingKey::from_jwk(&jwk).map_err(crypto)?;
            validate(alg, &der)?;
            set.jwks.keys.push(jwk);
            set.verifiers.insert(row.kid.clone(), (decoding, jose_alg));
            // Rows come latest-activating first: the first active, unretired one signs.
            if set.signer.is_none() && row.retired_at.is_none() && row.activates_at <= now {
                set.signer = Some(Signer { kid: row.kid, alg: jose_alg, encoding });
            }
        }
        // A token verified by a key that is still published stays verified: the cache
        // is emptied only when a key was withdrawn, not by every reload.
        if previous.verifiers.keys().all(|kid| set.verifiers.contains_key(kid)) {
            set.verified = previous.verified.clone();
        }
        let set = Arc::new(set);
        *self.set.write().unwrap_or_else(|p| p.into_inner()) = set.clone();
        Ok(set)
    }

    /// The key set as last loaded.
    fn loaded(&self) -> Arc<KeySet> {
        self.set.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The current key set, reloaded when it is older than the reload interval.
    async fn current(&self, now: UnixTime) -> Result<Arc<KeySet>, FlowError> {
        let set = self.loaded();
        if now.saturating_sub(set.loaded_at) < self.policy.reload_every && set.signer.is_some() {
            return Ok(set);
        }
        let _guard = self.reloading.lock().await;
        let set = self.loaded();
        if now.saturating_sub(set.loaded_at) < self.policy.reload_every && set.signer.is_some() {
            return Ok(set);
        }
        self.reload(now).await
    }

    /// The key set after looking for `kid`, which `seen` does not have: another instance
    /// may have added it since our last load. One reload at a time (the others wait for
    /// it and look at its result), and none when the keys were loaded less than
    /// [`UNKNOWN_KID_RELOAD_INTERVAL`] ago.
    async fn look_for(&self, kid: &str, seen: Arc<KeySet>, now: UnixTime) -> Result<Arc<KeySet>, FlowError> {
        let fresh = |set: &KeySet| now.saturating_sub(set.loaded_at) < UNKNOWN_KID_RELOAD_INTERVAL;
        if fresh(&seen) {
            return Ok(seen);
        }
        let _guard = self.reloading.lock().await;
        let set = self.loaded();
        if set.verifiers.contains_key(kid) || fresh(&set) {
            return Ok(set);
        }
        self.reload(now).await
    }

    /// How many times the keys were read from the store.
    #[cfg(test)]
    fn reload_count(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// The public keys, as served at the JWKS endpoint.
    pub async fn jwks(&self, now: UnixTime) -> Result<JwkSet, FlowError> {
        Ok(self.current(now).await?.jwks.clone())
    }

    /// Signs an access token (RFC 9068 §2.1: `typ` is `at+jwt`, `kid` names the key).
    pub async fn sign(&self, claims: &AccessTokenClaims, now: UnixTime) -> Result<String, FlowError> {
        let set = self.current(now).await?;
        let signer = set.signer.as_ref().ok_or_else(|| crypto("no active signing key; run `latchkey keys rotate`"))?;
        let mut header = Header::new(signer.alg);
        header.typ = Some(ACCESS_TOKEN_TYP.to_owned());
        header.kid = Some(signer.kid.clone());
        jsonwebtoken::encode(&header, claims, &signer.encoding).map_err(crypto)
    }

    /// Verifies a JWT access token this server issued: `typ`, signature by a published
    /// key (algorithm fixed by the key) and `iss`. Expiry is left to the caller. A token
    /// these keys verified before is answered from [`VerifiedTokens`] until it expires.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        now: UnixTime,
    ) -> Result<Option<AccessTokenClaims>, FlowError> {
        let mut set = self.current(now).await?;
        let fingerprint = verified_tokens::fingerprint(issuer, token);
        if let Some(claims) = set.verified.get(&fingerprint, now) {
            return Ok(Some(claims));
        }
        let Ok(header) = jsonwebtoken::decode_header(token) else { return Ok(None) };
        // RFC 9068 §4, the rule every verifier of these tokens uses.
        if jwt::check_header(header.typ.as_deref()).is_err() {
            return Ok(None);
        }
        let Some(kid) = header.kid else { return Ok(None) };
        if !set.verifiers.contains_key(&kid) {
            set = self.look_for(&kid, set, now).await?;
        }
        let Some((key, alg)) = set.verifiers.get(&kid) else { return Ok(None) };
        if header.alg != *alg {
            return Ok(None);
        }
        let mut v = Validation::new(*alg);
        v.validate_exp = false;
        v.validate_aud = false;
        v.set_issuer(&[issuer]);
        v.set_required_spec_claims(&["iss", "sub", "exp", "iat"]);
        let Ok(decoded) = jsonwebtoken::decode::<AccessTokenClaims>(token, key, &v) else { return Ok(None) };
        set.verified.put(fingerprint, &decoded.claims, now);
        Ok(Some(decoded.claims))
    }

    /// The id of the key that signs now, if any.
    pub async fn signing_kid(&self, now: UnixTime) -> Result<Option<String>, FlowError> {
        Ok(self.current(now).await?.signer.as_ref().map(|s| s.kid.clone()))
    }

    /// Adds a key that is published at once and signs after the overlap. Returns its id.
    pub async fn rotate(&self, alg: KeyAlg, now: UnixTime) -> Result<String, FlowError> {
        let kid = self.add_key(alg, now + self.policy.overlap, now).await?;
        self.reload(now).await?;
        Ok(kid)
    }

    /// Retires a key: it stops signing now and stays published until its tokens expire.
    /// Refused unless another key signs already: a key added by `rotate` signs only after
    /// the overlap, and retiring the old one before that would leave none to sign.
    pub async fn retire(&self, kid: &str, now: UnixTime) -> Result<(), FlowError> {
        let keys = self.store.signing_keys(now - self.policy.publish_after_retire).await?;
        let unretired = |k: &&SigningKeyRow| k.kid != kid && k.retired_at.is_none();
        if !keys.iter().filter(unretired).any(|k| k.activates_at <= now) {
            return Err(FlowError::Admin(match keys.iter().filter(unretired).map(|k| k.activates_at).min() {
                Some(at) => format!(
                    "`{kid}` is the last key that signs now; the next key signs in {} s: retire it then",
                    at - now
                ),
                None => format!("`{kid}` is the last key that can sign; run `latchkey keys rotate` first"),
            }));
        }
        if !self.store.retire_signing_key(kid, now).await? {
            return Err(FlowError::Admin(format!("no active key `{kid}`, or it is the last key that signs now")));
        }
        self.reload(now).await?;
        Ok(())
    }
}

impl KeySet {
    fn empty() -> KeySet {
        KeySet {
            loaded_at: i64::MIN,
            signer: None,
            jwks: JwkSet { keys: Vec::new() },
            verifiers: HashMap::new(),
            verified: Arc::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_a_key_that_signs_and_verifies() {
        install_crypto_provider();
        for alg in [KeyAlg::Es256, KeyAlg::EdDsa, KeyAlg::Rs256] {
            let der = generate(alg).unwrap();
            let enc = encoding_key(alg, &der).unwrap();
            let (jose, _) = alg.jose();
            let jwk = Jwk::from_encoding_key(&enc, jose).unwrap();
            probe(&enc, jose, &DecodingKey::from_jwk(&jwk).unwrap()).unwrap();
        }
    }

    #[test]
    fn a_key_whose_private_part_is_altered_fails_the_load_check() {
        for alg in [KeyAlg::Es256, KeyAlg::EdDsa, KeyAlg::Rs256] {
            let der = generate(alg).unwrap();
            validate(alg, &der).unwrap();
            assert!(validate(alg, b"not a key").is_err(), "{alg:?}");
            assert!(validate(alg, &der[..der.len() - 1]).is_err(), "{alg:?}");
        }
        // The last byte is in the public point (EC) or in a CRT value (RSA), which must
        // agree with the private key. (A PKCS#8 v1 Ed25519 key carries no public part.)
        for alg in [KeyAlg::Es256, KeyAlg::Rs256] {
            let mut der = generate(alg).unwrap();
            *der.last_mut().unwrap() ^= 0x01;
            assert!(validate(alg, &der).is_err(), "{alg:?}");
        }
    }

    const NOW: UnixTime = 1_800_000_000;
    const ISS: &str = "https://as.example";

    fn claims(now: UnixTime) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: ISS.into(),
            sub: "u".into(),
            aud: "api".into(),
            client_id: "c".into(),
            scope: "profile".into(),
            exp: now + 300,
            iat: now,
            jti: format!("j{now}").into(),
            gid: None,
        }
    }

    /// `token` with its header replaced by one naming key `kid` (the signature no longer
    /// matters: no key of that name is published).
    fn with_kid(token: &str, kid: &str) -> String {
        let header = serde_json::json!({ "alg": "ES256", "typ": ACCESS_TOKEN_TYP, "kid": kid });
        let rest = token.split_once('.').map(|(_, rest)| rest).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(header.to_string());
        format!("{b64}.{rest}")
    }

    /// Two stores on the same SQLite file, as two instances would have.
    async fn two_stores() -> (tempfile::TempDir, Store, Store) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("keys.db").display());
        let options = latchkey_store::StoreOptions::default();
        let one = Store::connect(&url, &options).await.unwrap();
        let two = Store::connect(&url, &options).await.unwrap();
        (dir, one, two)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn unknown_kids_reload_the_keys_once_at_a_time_at_most_once_a_second() {
        let (_dir, store, other_store) = two_stores().await;
        let ring = Arc::new(KeyRing::load_or_create(&store, KeyPolicy::default(), NOW).await.unwrap());
        let good = ring.sign(&claims(NOW), NOW).await.unwrap();
        assert!(ring.verify(&good, ISS, NOW).await.unwrap().is_some());
        assert_eq!(ring.loaded().verified.len(), 1);

        // A second later, 64 tokens with random kids arrive together: one reload between them.
        let before = ring.reload_count();
        let mut tasks = tokio::task::JoinSet::new();
        let start = Arc::new(tokio::sync::Barrier::new(64));
        for i in 0..64 {
            let (ring, token, start) = (ring.clone(), with_kid(&good, &format!("random-{i}")), start.clone());
            tasks.spawn(async move {
                start.wait().await;
                ring.verify(&token, ISS, NOW + 1).await.unwrap()
            });
        }
        while let Some(verified) = tasks.join_next().await {
            assert!(verified.unwrap().is_none(), "an unknown kid verifies nothing");
        }
        assert_eq!(ring.reload_count() - before, 1, "one reload for all of them");
        // That reload found the same keys: what was verified stays verified.
        assert_eq!(ring.loaded().verified.len(), 1, "the verified-token cache was kept");
        assert!(ring.verify(&good, ISS, NOW + 1).await.unwrap().is_some());

        // Another instance adds a key that signs at once.
        let policy = KeyPolicy { overlap: 0, ..KeyPolicy::default() };
        let other = KeyRing::load_or_create(&other_store, policy, NOW + 1).await.unwrap();
        let new_kid = other.rotate(KeyAlg::Es256, NOW + 1).await.unwrap();
        let fresh = other.sign(&claims(NOW + 1), NOW + 1).await.unwrap();
        assert_eq!(jsonwebtoken::decode_header(&fresh).unwrap().kid.as_deref(), Some(new_kid.as_str()));
        // Within the interval it is not looked for...
        let before = ring.reload_count();
        assert!(ring.verify(&fresh, ISS, NOW + 1).await.unwrap().is_none());
        assert_eq!(ring.reload_count(), before);
        // ...after it, it is found, and the tokens verified before are still remembered.
        assert_eq!(
            ring.verify(&fresh, ISS, NOW + 2).await.unwrap().map(|c| c.jti),
            Some(format!("j{}", NOW + 1).into())
        );
        assert_eq!(ring.reload_count(), before + 1);
        assert_eq!(ring.loaded().verified.len(), 2, "a key added does not empty the cache");
    }

    #[tokio::test]
    async fn a_withdrawn_key_empties_the_verified_token_cache() {
        let (_dir, store, _) = two_stores().await;
        let policy = KeyPolicy { overlap: 0, publish_after_retire: 10, ..KeyPolicy::default() };
        let ring = KeyRing::load_or_create(&store, policy, NOW).await.unwrap();
        let old_kid = ring.signing_kid(NOW).await.unwrap().unwrap();
        let token = ring.sign(&claims(NOW), NOW).await.unwrap();
        ring.rotate(KeyAlg::Es256, NOW).await.unwrap();
        ring.retire(&old_kid, NOW).await.unwrap();
        assert!(ring.verify(&token, ISS, NOW).await.unwrap().is_some(), "retired keys still verify");
        assert_eq!(ring.loaded().verified.len(), 1);
        // Past `publish_after_retire` the old key is withdrawn (seen at the next periodic
        // reload), and its tokens go with it.
        assert!(ring.verify(&token, ISS, NOW + 31).await.unwrap().is_none());
        assert_eq!(ring.loaded().verified.len(), 0);
    }

    #[tokio::test]
    async fn rfc9068_4_introspection_checks_typ_like_a_resource_server() {
        let (_dir, store, _) = two_stores().await;
        let ring = KeyRing::load_or_create(&store, KeyPolicy::default(), NOW).await.unwrap();
        let set = ring.loaded();
        let signer = set.signer.as_ref().unwrap();
        let signed_as = |typ: Option<&str>| {
            let mut header = Header::new(signer.alg);
            header.typ = typ.map(str::to_owned);
            header.kid = Some(signer.kid.clone());
            jsonwebtoken::encode(&header, &claims(NOW), &signer.encoding).unwrap()
        };
        for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
            assert!(ring.verify(&signed_as(Some(typ)), ISS, NOW).await.unwrap().is_some(), "{typ}");
        }
        for typ in [Some("JWT"), Some("application/jwt"), None] {
            assert!(ring.verify(&signed_as(typ), ISS, NOW).await.unwrap().is_none(), "{typ:?}");
        }
    }

    #[test]
    fn private_keys_encrypted_at_rest_open_only_with_the_secret_and_kid() {
        let sealed = seal_at_rest("s3cret", "kid1", b"private key").unwrap();
        assert!(!sealed.windows(11).any(|w| w == b"private key"));
        assert_eq!(open_at_rest("s3cret", "kid1", &sealed).unwrap(), b"private key");
        assert!(open_at_rest("wrong", "kid1", &sealed).is_err());
        assert!(open_at_rest("s3cret", "kid2", &sealed).is_err());
    }
}
