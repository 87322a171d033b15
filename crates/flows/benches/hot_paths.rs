//! Micro-benchmarks of the token endpoint's hot paths: JWT signing and verification
//! (through the key ring, as the server does it), form and Basic parsing, the PKCE check,
//! and secret hashing (SHA-256 for client secrets and tokens, Argon2id for passwords).
//! Run with `cargo bench -p latchkey-flows`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use argon2::PasswordHasher;
use criterion::{Criterion, criterion_group, criterion_main};
use latchkey_flows::{KeyAlg, KeyPolicy, KeyRing};
use latchkey_protocol::client_auth::{ClientCredentials, parse_basic};
use latchkey_protocol::form::Params;
use latchkey_protocol::jwt::AccessTokenClaims;
use latchkey_protocol::pkce::{self, CodeChallenge};
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::token::TokenRequest;
use latchkey_store::{Store, StoreOptions};

const ISSUER: &str = "https://auth.example";
const NOW: i64 = 1_800_000_000;

fn claims() -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISSUER.into(),
        sub: "2VbQnEk3kXw6HcJp9yNf".into(),
        aud: ISSUER.into(),
        client_id: "Jm4kQ8vT2xR7nB5wZ1pL".into(),
        scope: "profile email".into(),
        exp: NOW + 300,
        iat: NOW,
        jti: "h3TgW9qLmX2vK8nR4pZs".into(),
        gid: None,
    }
}

fn jwt(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = std::env::temp_dir().join(format!("latchkey-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for alg in [KeyAlg::Es256, KeyAlg::EdDsa, KeyAlg::Rs256] {
        let ring = rt.block_on(async {
            let url = format!("sqlite://{}/{}.db", dir.display(), alg.as_str());
            let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
            let policy =
                KeyPolicy { overlap: 0, publish_after_retire: 600, reload_every: 3600, encryption_secret: None };
            // The first key (ES256) activates earlier, so the rotated-in key is the newest and signs.
            let ring = KeyRing::load_or_create(&store, policy, NOW - 10).await.unwrap();
            ring.rotate(alg, NOW).await.unwrap();
            ring
        });
        let claims = claims();
        let token = rt.block_on(ring.sign(&claims, NOW + 1)).unwrap();
        let header = jsonwebtoken::decode_header(&token).unwrap();
        assert_eq!(format!("{:?}", header.alg).to_uppercase(), alg.as_str().to_uppercase(), "the rotated key signs");
        c.bench_function(&format!("jwt sign {}", alg.as_str()), |b| {
            b.iter(|| rt.block_on(ring.sign(black_box(&claims), NOW + 1)).unwrap())
        });
        c.bench_function(&format!("jwt verify {}", alg.as_str()), |b| {
            b.iter(|| rt.block_on(ring.verify(black_box(&token), ISSUER, NOW + 1)).unwrap().unwrap())
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn parsing(c: &mut Criterion) {
    let body = b"grant_type=authorization_code&code=lkc_9mQ2vX7kR4pT8nW3zB6yH1jL5cF0dG&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    c.bench_function("form parse + token request", |b| {
        b.iter(|| TokenRequest::parse(&Params::parse(black_box(body)).unwrap()).unwrap())
    });
    let header = "Basic SmVtNGtROHZUMnhSN25CNXdaMXBMOmxrc19zM2NyM3RfdjRsdTNfdzF0aF8zMl9jaDRyNWN0M3I1";
    let form = Params::parse(b"grant_type=client_credentials").unwrap();
    c.bench_function("basic credentials parse", |b| b.iter(|| parse_basic(black_box(header)).unwrap()));
    c.bench_function("client credentials from request", |b| {
        b.iter(|| ClientCredentials::from_request(Some(black_box(header)), &form).unwrap())
    });
}

fn pkce_check(c: &mut Criterion) {
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = CodeChallenge::s256(verifier);
    c.bench_function("pkce S256 verify", |b| {
        b.iter(|| pkce::verify(Some(&challenge), Some(black_box(verifier))).unwrap())
    });
}

fn hashing(c: &mut Criterion) {
    let secret = "lks_s3cr3t_v4lu3_w1th_32_ch4r5ct3r5_4nd_m0r3";
    c.bench_function("secret hash sha256", |b| b.iter(|| SecretHash::of(black_box(secret))));
    let mut group = c.benchmark_group("password");
    group.sample_size(10);
    group.bench_function("argon2id hash (default parameters)", |b| {
        b.iter(|| argon2::Argon2::default().hash_password(black_box(b"correct horse")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, jwt, parsing, pkce_check, hashing);
criterion_main!(benches);
