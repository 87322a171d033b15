//! Signing key rotation: publish before signing, keep retired keys until their tokens
//! expire, three algorithms, encryption at rest.

use axum::Router;
use axum::routing::get;
use latchkey_flows::{KeyAlg, KeyPolicy, KeyRing};
use latchkey_resource::{Bearer, BearerAuth, BearerConfig};
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::*;

async fn kids(t: &TestServer) -> Vec<String> {
    let jwks: Value = t.http().get(format!("{}/jwks.json", t.url)).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

async fn token(t: &TestServer, client: &TestClient) -> String {
    let body: Value = t.token(client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

async fn resource(t: &TestServer) -> String {
    async fn ok(_: Bearer) -> &'static str {
        "ok"
    }
    let mut config = BearerConfig::new(t.url.clone(), t.url.clone());
    config.refetch_interval = std::time::Duration::ZERO;
    let app = Router::new().route("/", get(ok)).with_state(BearerAuth::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test]
async fn rotation_publishes_before_signing_and_retires_after_tokens_expire() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let api = resource(&t).await;
    let old = kids(&t).await;
    assert_eq!(old.len(), 1);
    let old_token = token(&t, &client).await;
    assert_eq!(t.http().get(&api).bearer_auth(&old_token).send().await.unwrap().status(), StatusCode::OK);

    for alg in [KeyAlg::EdDsa, KeyAlg::Rs256, KeyAlg::Es256] {
        let before = jsonwebtoken::decode_header(token(&t, &client).await).unwrap().kid.unwrap();
        let new = t.auth.keys().rotate(alg, t.auth.now()).await.unwrap();
        // Published at once, but not signing until the overlap has passed.
        assert!(kids(&t).await.contains(&new));
        assert_eq!(jsonwebtoken::decode_header(token(&t, &client).await).unwrap().kid.unwrap(), before);
        t.clock.advance(600);
        let fresh = token(&t, &client).await;
        let header = jsonwebtoken::decode_header(&fresh).unwrap();
        assert_eq!(header.kid.as_deref(), Some(new.as_str()));
        assert_eq!(format!("{:?}", header.alg), alg.as_str());
        // A resource server that cached the old key set finds the new key.
        assert_eq!(t.http().get(&api).bearer_auth(&fresh).send().await.unwrap().status(), StatusCode::OK, "{alg:?}");
    }
    // Tokens signed by the first key still verify while it is published.
    assert_eq!(t.http().get(&api).bearer_auth(&old_token).send().await.unwrap().status(), StatusCode::OK);

    t.auth.keys().retire(&old[0], t.auth.now()).await.unwrap();
    assert!(kids(&t).await.contains(&old[0]), "still published while its tokens may live");
    t.clock.advance(601);
    assert!(!kids(&t).await.contains(&old[0]), "gone once they have expired");
}

#[tokio::test]
async fn the_last_signing_key_cannot_be_retired() {
    let t = TestServer::start().await;
    let only = kids(&t).await.remove(0);
    let err = t.auth.keys().retire(&only, t.auth.now()).await.unwrap_err();
    assert!(err.to_string().contains("rotate"), "{err}");
}

/// `keys rotate` then `keys retire OLD` at once (the natural move after a compromise)
/// would leave no key to sign until the new one's overlap ends: every JWT request would
/// fail for `key_overlap`. Retiring is refused until another key signs.
#[tokio::test]
async fn a_key_cannot_be_retired_before_its_successor_signs() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let old = kids(&t).await.remove(0);
    t.auth.keys().rotate(KeyAlg::Es256, t.auth.now()).await.unwrap();
    let err = t.auth.keys().retire(&old, t.auth.now()).await.unwrap_err();
    assert!(err.to_string().contains("signs in 600 s"), "{err}");
    assert_eq!(jsonwebtoken::decode_header(token(&t, &client).await).unwrap().kid.unwrap(), old, "still signs");
    t.clock.advance(600);
    t.auth.keys().retire(&old, t.auth.now()).await.unwrap();
    assert_ne!(jsonwebtoken::decode_header(token(&t, &client).await).unwrap().kid.unwrap(), old);
}

#[tokio::test]
async fn private_keys_are_encrypted_at_rest_when_a_secret_is_set() {
    let secret = "correct horse battery staple";
    let t = TestServer::start_with(|s| s.keys.encryption_secret = Some(secret.into())).await;
    let client = t.confidential_client().await;
    token(&t, &client).await;
    let rows = t.store.signing_keys(0).await.unwrap();
    assert!(rows.iter().all(|k| k.encrypted));
    // So is the key that seals authorization codes: a marker byte, then nonce, key and tag.
    let code_key = t.store.server_secret("code_sealing_key", b"", 0).await.unwrap();
    assert_eq!((code_key[0], code_key.len()), (1, 1 + 12 + 32 + 16));
    // And the key that derives refresh-token successors.
    let refresh_key = t.store.server_secret("refresh_successor_key", b"", 0).await.unwrap();
    assert_eq!((refresh_key[0], refresh_key.len()), (1, 1 + 12 + 32 + 16));
    let policy = |s: Option<&str>| KeyPolicy { encryption_secret: s.map(Into::into), ..KeyPolicy::default() };
    let now = t.auth.now();
    let err = KeyRing::load_or_create(&t.store, policy(None), now).await.unwrap_err();
    assert!(err.to_string().contains("key_encryption_secret"), "{err}");
    let err = KeyRing::load_or_create(&t.store, policy(Some("wrong secret, long enough")), now).await.unwrap_err();
    assert!(err.to_string().contains("decrypt"), "{err}");
    KeyRing::load_or_create(&t.store, policy(Some(secret)), now).await.unwrap();
    // A start with another secret is refused, and says how to change it.
    let mut settings = t.auth.settings().clone();
    settings.keys.encryption_secret = Some("wrong secret, long enough".into());
    let clock = std::sync::Arc::new(latchkey_flows::SystemClock);
    let err = latchkey_flows::AuthServer::new(t.store.clone(), settings, clock).await.err().unwrap();
    assert!(err.to_string().contains("latchkey keys rekey"), "{err}");
}

const OLD_SECRET: &str = "correct horse battery staple";
const NEW_SECRET: &str = "a brand new secret, long enough";
const SECRET_VAR: &str = "LATCHKEY_KEY_ENCRYPTION_SECRET";

/// The secrets as stored: every row of `server_secrets` (name, value) and every signing
/// key (kid, private part, encrypted), read from the database directly.
#[derive(Debug, PartialEq)]
struct Raw {
    secrets: Vec<(String, Vec<u8>)>,
    keys: Vec<(String, Vec<u8>, bool)>,
}

async fn raw(db: &str) -> Raw {
    const SECRETS: &str = "SELECT name, value FROM server_secrets ORDER BY name";
    const KEYS: &str = "SELECT kid, private_der, encrypted FROM signing_keys ORDER BY kid";
    if db.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(db).await.unwrap();
        let out = Raw {
            secrets: sqlx::query_as(SECRETS).fetch_all(&pool).await.unwrap(),
            keys: sqlx::query_as(KEYS).fetch_all(&pool).await.unwrap(),
        };
        pool.close().await;
        out
    } else {
        let pool = sqlx::PgPool::connect(db).await.unwrap();
        let out = Raw {
            secrets: sqlx::query_as(SECRETS).fetch_all(&pool).await.unwrap(),
            keys: sqlx::query_as(KEYS).fetch_all(&pool).await.unwrap(),
        };
        pool.close().await;
        out
    }
}

impl Raw {
    /// The plaintext of each secret, known while it is stored unencrypted.
    fn plaintexts(&self) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        for (name, value) in &self.secrets {
            assert_ne!(value[0], 1, "{name} is stored in plaintext here");
            // A marker byte then the key, or (the refresh-successor key) the key alone.
            out.push(if value[0] == 0 { value[1..].to_vec() } else { value.clone() });
        }
        for (kid, der, encrypted) in &self.keys {
            assert!(!encrypted, "{kid} is stored in plaintext here");
            out.push(der.clone());
        }
        out
    }

    fn all_encrypted(&self) {
        for (name, value) in &self.secrets {
            // A marker byte, nonce, key (32 bytes, or 43 for the unmarked kind) and tag.
            assert!(value[0] == 1 && value.len() >= 1 + 12 + 32 + 16, "{name}");
        }
        assert!(self.keys.iter().all(|(_, _, encrypted)| *encrypted));
        assert!(self.secrets.len() >= 2 && !self.keys.is_empty(), "{self:?}");
    }

    fn holds(&self, plain: &[u8]) -> bool {
        let values = self.secrets.iter().map(|(_, v)| v).chain(self.keys.iter().map(|(_, v, _)| v));
        values.into_iter().any(|v| v.windows(plain.len()).any(|w| w == plain))
    }
}

/// Runs the binary to its end (bounded), with environment and standard input.
fn run(db: &str, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(args)
        .env("LATCHKEY_DATABASE_URL", db)
        .env("LATCHKEY_LOG", "warn")
        .env_remove(SECRET_VAR)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("{args:?} did not finish");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A code (not redeemed) and a refresh token, from a server on `db`.
async fn issue(db: &str, env: &[(&str, &str)], client: &TestClient) -> (String, String) {
    let node = crate::scale_out::start(db, 1, env).await.remove(0);
    let browser = Browser {
        http: reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap(),
        base: node.url.clone(),
    };
    let mut codes = Vec::new();
    for _ in 0..2 {
        let loc = browser.authorize(&authorize_query(client, &[("scope", "profile")]), "alice").await;
        codes.push(param(&loc, "code").unwrap());
    }
    let res = redeem(&node.url, client, &codes[1]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    (codes.remove(0), tokens["refresh_token"].as_str().unwrap().to_owned())
}

async fn redeem(url: &str, client: &TestClient, code: &str) -> reqwest::Response {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    http.post(format!("{url}/token")).basic_auth(&client.id, client.secret.as_ref()).form(&form).send().await.unwrap()
}

async fn refresh(url: &str, client: &TestClient, token: &str) -> reqwest::Response {
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    http.post(format!("{url}/token"))
        .basic_auth(&client.id, client.secret.as_ref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
        .send()
        .await
        .unwrap()
}

fn setup(db: &str) -> TestClient {
    let client = TestClient::from_cli(&crate::scale_out::cli(db, WEB_CLIENT_ARGS, None), WEB_REDIRECT);
    crate::scale_out::cli(db, &["users", "add", "alice", "--password-stdin"], Some(PASSWORD));
    client
}

/// A database filled without a secret, then started with one by `instances` servers at once.
async fn encrypted_at_the_next_start(db: String, instances: usize) {
    let client = setup(&db);
    // The refresh-successor key as earlier versions stored it: base64url text, no marker.
    let legacy = "xQ0Rj3mH8b1Vw2cL5nK7pT9sA4dF6gJ1eZ3yU8iO0rW";
    let sql = "UPDATE server_secrets SET value = $1 WHERE name = 'refresh_successor_key'";
    if db.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
        assert_eq!(sqlx::query(sql).bind(legacy.as_bytes()).execute(&pool).await.unwrap().rows_affected(), 1);
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(&db).await.unwrap();
        assert_eq!(sqlx::query(sql).bind(legacy.as_bytes()).execute(&pool).await.unwrap().rows_affected(), 1);
        pool.close().await;
    }
    let (code, refresh_token) = issue(&db, &[], &client).await;
    let before = raw(&db).await;
    let plaintexts = before.plaintexts();
    assert!(plaintexts.contains(&legacy.as_bytes().to_vec()), "{before:?}");

    let nodes = crate::scale_out::start(&db, instances, &[(SECRET_VAR, OLD_SECRET)]).await;
    let after = raw(&db).await;
    after.all_encrypted();
    for plain in &plaintexts {
        assert!(!after.holds(plain), "a secret is still readable in the database");
    }
    // What was issued before still works: the keys are the same, only encrypted.
    let last = &nodes[instances - 1].url;
    assert_eq!(redeem(last, &client, &code).await.status(), StatusCode::OK);
    assert_eq!(refresh(&nodes[0].url, &client, &refresh_token).await.status(), StatusCode::OK);
    drop(nodes);
    // Nor in the SQLite file: freed space is zeroed and the write-ahead log emptied.
    if let Some(path) = db.strip_prefix("sqlite://") {
        let mut bytes = std::fs::read(path).unwrap();
        bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
        for plain in &plaintexts {
            assert!(!bytes.windows(plain.len()).any(|w| w == plain), "a secret is still readable in the file");
        }
    }
    // Without the secret now, nothing starts.
    let out = run(&db, &[], &["keys", "list"], None);
    assert!(!out.status.success() && stderr(&out).contains("key_encryption_secret"), "{}", stderr(&out));
}

#[tokio::test]
async fn secrets_stored_in_plaintext_are_encrypted_at_the_next_start_with_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    encrypted_at_the_next_start(format!("sqlite://{}", dir.path().join("latchkey.db").display()), 1).await;
}

#[tokio::test]
async fn secrets_stored_in_plaintext_are_encrypted_once_when_two_instances_start_at_once_on_postgresql() {
    let Some(db) = crate::scale_out::PgDatabase::create().await else { return };
    let url = db.url.clone();
    db.run(encrypted_at_the_next_start(url, 2)).await;
}

#[tokio::test]
async fn keys_rekey_changes_the_key_encryption_secret() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let client = setup(&db);
    let (old, new) = ([(SECRET_VAR, OLD_SECRET)], [(SECRET_VAR, NEW_SECRET)]);
    let (code, refresh_token) = issue(&db, &old, &client).await;
    let before = raw(&db).await;
    before.all_encrypted();
    let rekey = ["keys", "rekey", "--new-secret-stdin"];

    // Refused, changing nothing: a wrong current secret, a short new one.
    let out = run(&db, &[(SECRET_VAR, "not the secret in use")], &rekey, Some(NEW_SECRET));
    assert!(!out.status.success() && stderr(&out).contains("decrypt"), "{}", stderr(&out));
    let out = run(&db, &old, &rekey, Some("short\n"));
    assert!(!out.status.success() && stderr(&out).contains("16 characters"), "{}", stderr(&out));
    assert_eq!(raw(&db).await, before);

    let out = run(&db, &old, &rekey, Some(&format!("{NEW_SECRET}\n")));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-encrypted"));
    let after = raw(&db).await;
    after.all_encrypted();
    for ((name, a), (_, b)) in before.secrets.iter().zip(&after.secrets) {
        assert_ne!(a, b, "{name} was re-encrypted");
    }
    for ((kid, a, _), (_, b, _)) in before.keys.iter().zip(&after.keys) {
        assert_ne!(a, b, "{kid} was re-encrypted");
    }

    // The old secret no longer starts the server, and the refusal says why.
    let out = run(&db, &old, &["serve", "--bind", "127.0.0.1:0"], None);
    assert!(!out.status.success(), "started with the old secret");
    assert!(stderr(&out).contains("keys rekey"), "{}", stderr(&out));
    // The new one does, and what was issued before still works.
    let nodes = crate::scale_out::start(&db, 1, &new).await;
    assert_eq!(redeem(&nodes[0].url, &client, &code).await.status(), StatusCode::OK);
    assert_eq!(refresh(&nodes[0].url, &client, &refresh_token).await.status(), StatusCode::OK);
}
