//! Several `latchkey serve` processes on one PostgreSQL database behave as one server.
//!
//! PostgreSQL runs on the development and CI machines (127.0.0.1:5432); the test creates
//! its own database and drops it. `LATCHKEY_SKIP_POSTGRES=1` skips it explicitly.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{
    Browser, PASSWORD, TestClient, VERIFIER, WEB_CLIENT_ARGS, WEB_REDIRECT, authorize_query, field, location, param,
};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");
const ISSUER: &str = "http://localhost:8000";

pub struct PgDatabase {
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// A fresh database, or `None` when PostgreSQL tests are skipped on purpose.
    pub async fn create() -> Option<PgDatabase> {
        if std::env::var("LATCHKEY_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
            eprintln!("skipping PostgreSQL: LATCHKEY_SKIP_POSTGRES=1");
            return None;
        }
        let admin_url = std::env::var("LATCHKEY_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let name = format!("latchkey_e2e_{}_{nanos}", std::process::id());
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL at {admin_url} is required ({e}); LATCHKEY_SKIP_POSTGRES=1 skips"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
        admin.close().await;
        let url = format!("{}/{name}", admin_url.rsplit_once('/').unwrap().0);
        Some(PgDatabase { url, admin_url, name })
    }

    /// Runs `body`, then drops the database whether it passed or not.
    pub async fn run<F: std::future::Future<Output = ()> + Send + 'static>(self, body: F) {
        let outcome = tokio::spawn(body).await;
        let admin = sqlx::PgPool::connect(&self.admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

pub struct Instance {
    child: Child,
    pub url: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn cli(db: &str, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(BIN)
        .args(args)
        .env("LATCHKEY_DATABASE_URL", db)
        .env("LATCHKEY_LOG", "warn")
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
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Starts instances at once (they migrate concurrently) and waits until all answer.
pub async fn start(db: &str, n: usize, env: &[(&str, &str)]) -> Vec<Instance> {
    let mut out = Vec::new();
    for _ in 0..n {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(BIN)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--issuer", ISSUER])
            .env("LATCHKEY_DATABASE_URL", db)
            .env("LATCHKEY_LOG", "error")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            // The servers' warnings and errors show in a failing test's output.
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        out.push(Instance { child, url: format!("http://127.0.0.1:{port}") });
    }
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for i in &out {
        let started = Instant::now();
        while !http.get(format!("{}/readyz", i.url)).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(started.elapsed() < Duration::from_secs(30), "{} did not start", i.url);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    out
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap()
}

async fn token(url: &str, c: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    http().post(format!("{url}/token")).basic_auth(&c.id, c.secret.as_ref()).form(form).send().await.unwrap()
}

async fn introspect(url: &str, c: &TestClient, t: &str) -> bool {
    let r: Value = http()
        .post(format!("{url}/introspect"))
        .basic_auth(&c.id, c.secret.as_ref())
        .form(&[("token", t)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["active"].as_bool().unwrap()
}

/// A code through the browser flow: log in on `a`, consent on `b`, redirect from `c`.
async fn code(cookies: &reqwest::Client, [a, b, c]: [&str; 3], client: &TestClient) -> String {
    let on = |base: &str| Browser { http: cookies.clone(), base: base.to_owned() };
    let query = authorize_query(client, &[("scope", "profile")]);
    let page = on(a).get(&format!("/authorize?{query}")).await.text().await.unwrap();
    if page.contains("name=\"password\"") {
        let res = on(a).login(&page, "alice", PASSWORD).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
    }
    let res = on(b).get(&format!("/authorize?{query}")).await;
    let loc = if res.status() == StatusCode::OK {
        let page = res.text().await.unwrap();
        location(&on(c).decide(&page, "allow").await)
    } else {
        location(&res)
    };
    param(&loc, "code").unwrap_or_else(|| panic!("no code in {loc}"))
}

#[tokio::test]
async fn three_instances_on_one_postgresql_database_act_as_one_server() {
    let Some(db) = PgDatabase::create().await else { return };
    let url = db.url.clone();
    db.run(async move {
        let client = TestClient::from_cli(&cli(&url, WEB_CLIENT_ARGS, None), WEB_REDIRECT);
        cli(&url, &["users", "add", "alice", "--password-stdin"], Some(PASSWORD));
        let nodes = start(&url, 3, &[("LATCHKEY_KEY_RELOAD_INTERVAL", "1"), ("LATCHKEY_KEY_OVERLAP", "0")]).await;
        let [a, b, c] = [nodes[0].url.as_str(), nodes[1].url.as_str(), nodes[2].url.as_str()];
        let cookies = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();

        // A login made on A is valid on B; the code it yields is redeemed at C.
        let code_ = code(&cookies, [a, b, c], &client).await;
        let redeem = [
            ("grant_type", "authorization_code"),
            ("code", code_.as_str()),
            ("redirect_uri", "https://app.example/cb"),
            ("code_verifier", VERIFIER),
        ];
        let res = token(c, &client, &redeem).await;
        assert_eq!(res.status(), StatusCode::OK);
        let tokens: Value = res.json().await.unwrap();
        assert_eq!(error_code(token(a, &client, &redeem).await).await, "invalid_grant", "used once, cluster-wide");

        // A token issued by A is active on C, and revoked through B.
        let cc: Value = token(a, &client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
        let at = cc["access_token"].as_str().unwrap();
        assert!(introspect(c, &client, at).await);
        let res = http()
            .post(format!("{b}/revoke"))
            .basic_auth(&client.id, client.secret.as_ref())
            .form(&[("token", at)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(!introspect(c, &client, at).await);
        assert!(!introspect(a, &client, at).await);

        // Races between instances: never two winners.
        for trial in 0..15 {
            let code_ = code(&cookies, [a, b, c], &client).await;
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code_.as_str()),
                ("redirect_uri", "https://app.example/cb"),
                ("code_verifier", VERIFIER),
            ];
            let (x, y) = tokio::join!(token(a, &client, &form), token(b, &client, &form));
            let wins = [x.status(), y.status()].iter().filter(|s| **s == StatusCode::OK).count();
            assert_eq!(wins, 1, "code race, trial {trial}");
        }
        // (The family of `tokens` was revoked when its code was replayed above.)
        assert_eq!(
            error_code(
                token(
                    a,
                    &client,
                    &[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())]
                )
                .await
            )
            .await,
            "invalid_grant"
        );
        for trial in 0..15 {
            let fresh = code(&cookies, [a, b, c], &client).await;
            let form = [
                ("grant_type", "authorization_code"),
                ("code", fresh.as_str()),
                ("redirect_uri", "https://app.example/cb"),
                ("code_verifier", VERIFIER),
            ];
            let t: Value = token(a, &client, &form).await.json().await.unwrap();
            let rt = t["refresh_token"].as_str().unwrap().to_owned();
            let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
            let (x, y) = tokio::join!(token(b, &client, &form), token(c, &client, &form));
            let oks: Vec<Value> = {
                let mut v = Vec::new();
                for r in [x, y] {
                    if r.status() == StatusCode::OK {
                        v.push(r.json().await.unwrap());
                    }
                }
                v
            };
            // Never two different successors: either one wins and the other is refused, or
            // (within the grace period) both get the same successor.
            let successors: std::collections::BTreeSet<&str> =
                oks.iter().map(|t| t["refresh_token"].as_str().unwrap()).collect();
            assert!(!oks.is_empty() && successors.len() == 1, "refresh race, trial {trial}: {successors:?}");
        }

        // A key rotated through the CLI is in every instance's JWKS within the reload interval.
        let out = cli(&url, &["keys", "rotate", "--alg", "EdDSA"], None);
        let kid = out.split_whitespace().nth(2).unwrap().to_owned();
        let started = Instant::now();
        for node in [a, b, c] {
            loop {
                let jwks: Value = http().get(format!("{node}/jwks.json")).send().await.unwrap().json().await.unwrap();
                if jwks["keys"].as_array().unwrap().iter().any(|k| k["kid"] == kid.as_str()) {
                    break;
                }
                assert!(started.elapsed() < Duration::from_secs(5), "{node} never published {kid}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        // A client added by the CLI works on every instance at once.
        let fresh: Value =
            serde_json::from_str(&cli(&url, &["clients", "add", "--name", "New", "--json"], None)).unwrap();
        let fresh = TestClient {
            id: fresh["client_id"].as_str().unwrap().into(),
            secret: fresh["client_secret"].as_str().map(Into::into),
            redirect_uri: String::new(),
        };
        for node in [a, b, c] {
            assert_eq!(token(node, &fresh, &[("grant_type", "client_credentials")]).await.status(), StatusCode::OK);
        }

        // The failed-login limit holds across instances: 5 failures spread over three.
        cli(&url, &["users", "add", "bob", "--password-stdin"], Some(PASSWORD));
        let guesser = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let on = |base: &str| Browser { http: guesser.clone(), base: base.to_owned() };
        for (i, node) in [a, b, c, a, b].iter().enumerate() {
            let page = on(node).get("/login").await.text().await.unwrap();
            assert!(field(&page, "csrf").is_some());
            assert_eq!(
                on(node).login(&page, "bob", "wrong password").await.status(),
                StatusCode::UNAUTHORIZED,
                "attempt {i}"
            );
        }
        let page = on(c).get("/login").await.text().await.unwrap();
        assert_eq!(on(c).login(&page, "bob", PASSWORD).await.status(), StatusCode::TOO_MANY_REQUESTS);
        drop(nodes);
    })
    .await;
}

async fn error_code(res: reqwest::Response) -> String {
    crate::harness::error_code(res).await
}

/// A TCP proxy of the test's own between a server and PostgreSQL, which the test cuts and
/// restores.
struct Proxy {
    port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, links2) = (up.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                links2.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { port, up, links }
    }

    fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_database_outage_fails_fast_in_the_rfc_format_and_recovers_by_itself() {
    let Some(db) = PgDatabase::create().await else { return };
    let url = db.url.clone();
    db.run(async move {
        let client = TestClient::from_cli(&cli(&url, &["clients", "add", "--name", "M2M", "--json"], None), "");
        let parsed = url::Url::parse(&url).unwrap();
        let proxy = Proxy::start(format!("{}:{}", parsed.host_str().unwrap(), parsed.port().unwrap_or(5432))).await;
        let mut via_proxy = parsed.clone();
        via_proxy.set_host(Some("127.0.0.1")).unwrap();
        via_proxy.set_port(Some(proxy.port)).unwrap();
        let nodes = start(via_proxy.as_str(), 1, &[("LATCHKEY_ACQUIRE_TIMEOUT", "2")]).await;
        let node = nodes[0].url.as_str();
        let cc = [("grant_type", "client_credentials")];
        assert_eq!(token(node, &client, &cc).await.status(), StatusCode::OK);

        proxy.cut();
        // A client registration read in the last `client_cache_ttl` (1 s) is reused, so a
        // JWT client_credentials grant may still succeed for that long: wait it out.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let started = Instant::now();
        let res = token(node, &client, &cc).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(error_code(res).await, "temporarily_unavailable");
        assert!(started.elapsed() < Duration::from_secs(6), "failed fast: {:?}", started.elapsed());
        assert_eq!(
            http().get(format!("{node}/readyz")).send().await.unwrap().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(http().get(format!("{node}/healthz")).send().await.unwrap().status(), StatusCode::OK);
        let page =
            http().get(format!("{node}/authorize?client_id={}&response_type=code", client.id)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(page.text().await.unwrap().contains("Temporarily unavailable"));

        proxy.restore();
        let started = Instant::now();
        loop {
            if token(node, &client, &cc).await.status() == StatusCode::OK {
                break;
            }
            assert!(started.elapsed() < Duration::from_secs(15), "did not recover");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(http().get(format!("{node}/readyz")).send().await.unwrap().status(), StatusCode::OK);
        drop(nodes);
    })
    .await;
}

#[tokio::test]
async fn moving_from_sqlite_to_postgresql_keeps_clients_users_consents_keys_and_refresh_tokens() {
    let Some(db) = PgDatabase::create().await else { return };
    let pg = db.url.clone();
    db.run(async move {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!("sqlite://{}", dir.path().join("latchkey.db").display());
        let client = TestClient::from_cli(&cli(&sqlite, WEB_CLIENT_ARGS, None), WEB_REDIRECT);
        cli(&sqlite, &["users", "add", "alice", "--password-stdin"], Some(PASSWORD));

        let (refresh_token, kid, redeemed, pending) = {
            let nodes = start(&sqlite, 1, &[]).await;
            let n = nodes[0].url.as_str();
            let cookies = reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()
                .unwrap();
            let code_ = code(&cookies, [n, n, n], &client).await;
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code_.as_str()),
                ("redirect_uri", "https://app.example/cb"),
                ("code_verifier", VERIFIER),
            ];
            let t: Value = token(n, &client, &form).await.json().await.unwrap();
            let cc: Value = token(n, &client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
            let kid = jsonwebtoken::decode_header(cc["access_token"].as_str().unwrap()).unwrap().kid.unwrap();
            let pending = code(&cookies, [n, n, n], &client).await;
            (t["refresh_token"].as_str().unwrap().to_owned(), kid, code_, pending)
        };

        let snapshot = dir.path().join("snapshot.json");
        cli(&sqlite, &["export", "--output", snapshot.to_str().unwrap()], None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&snapshot).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&snapshot).unwrap();
        assert!(
            !text.contains(client.secret.as_deref().unwrap()) && !text.contains(&refresh_token),
            "no secrets, only digests"
        );
        let out = cli(&pg, &["import", snapshot.to_str().unwrap()], None);
        assert!(out.contains("imported 1 clients, 1 users, 1 consents"), "{out}");

        let nodes = start(&pg, 1, &[]).await;
        let n = nodes[0].url.as_str();
        // The same client secret, the same signing key, the same live refresh token.
        let cc: Value = token(n, &client, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
        assert_eq!(jsonwebtoken::decode_header(cc["access_token"].as_str().unwrap()).unwrap().kid.unwrap(), kid);
        let res =
            token(n, &client, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())]).await;
        assert_eq!(res.status(), StatusCode::OK);
        // A code issued before the move still redeems once (the sealing key moved with the
        // installation secrets), and one redeemed before it is still spent.
        let client_ = &client;
        let redeem = |code: String| async move {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "https://app.example/cb"),
                ("code_verifier", VERIFIER),
            ];
            token(n, client_, &form).await
        };
        assert_eq!(redeem(pending).await.status(), StatusCode::OK);
        let replay: Value = redeem(redeemed).await.json().await.unwrap();
        assert_eq!(replay["error_description"], "the authorization code was already used");
        // The same password, and the consent is remembered: straight back with a code.
        let cookies = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let b = Browser { http: cookies, base: n.to_owned() };
        let query = authorize_query(&client, &[("scope", "profile")]);
        let page = b.get(&format!("/authorize?{query}")).await.text().await.unwrap();
        b.login(&page, "alice", PASSWORD).await;
        let res = b.get(&format!("/authorize?{query}")).await;
        assert_eq!(res.status(), StatusCode::FOUND);
        assert!(param(&location(&res), "code").is_some());
        drop(nodes);

        // A second import into a database that is no longer empty is refused, and changes nothing.
        let out = Command::new(BIN)
            .args(["import", snapshot.to_str().unwrap()])
            .env("LATCHKEY_DATABASE_URL", &pg)
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
    })
    .await;
}
