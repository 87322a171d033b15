//! The `latchkey` binary: serve, clients, users, token, and configuration errors.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Browser, PASSWORD, TestClient, WEB_CLIENT_ARGS, WEB_REDIRECT, location};

const BIN: &str = env!("CARGO_BIN_EXE_latchkey");

fn latchkey(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir).args(args).env_remove("LATCHKEY_DATABASE_URL").env("LATCHKEY_LOG", "warn");
    c
}

fn run_ok(dir: &std::path::Path, args: &[&str], stdin: Option<&str>) -> String {
    let mut child =
        latchkey(dir, args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The first stderr line of `child` that `pick` accepts. The rest of stderr keeps being
/// read, so the program never writes into a closed pipe.
async fn first_line(child: &mut Child, pick: impl Fn(&str) -> Option<String> + Send + 'static) -> Option<String> {
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(found) = pick(&line)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(found);
            }
        }
    });
    rx.await.ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running `latchkey serve` and its port.
struct Served(Child, u16);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(dir: &std::path::Path) -> (Served, String) {
    serve_with(dir, &[]).await
}

async fn serve_with(dir: &std::path::Path, env: &[(&str, &str)]) -> (Served, String) {
    let port = free_port();
    let child = latchkey(dir, &["serve", "--bind", &format!("127.0.0.1:{port}")])
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://localhost:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let start = Instant::now();
    while http.get(format!("http://127.0.0.1:{port}/healthz")).send().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "server did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (Served(child, port), url)
}

#[tokio::test]
async fn cli_clients_and_users_are_seen_by_a_running_server_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(dir.path()).await;
    // Added after the server started, through the same default database file.
    let out = run_ok(dir.path(), &["clients", "add", "--name", "Machine", "--scope", "notes:read", "--json"], None);
    let creds: Value = serde_json::from_str(&out).unwrap();
    let (id, secret) = (creds["client_id"].as_str().unwrap(), creds["client_secret"].as_str().unwrap());
    assert!(secret.starts_with("lks_"));
    // The secret is stored only as a hash.
    let db = std::fs::read(dir.path().join("latchkey.db")).unwrap();
    assert!(!db.windows(secret.len()).any(|w| w == secret.as_bytes()));

    let out = run_ok(
        dir.path(),
        &["token", "--issuer", &url, "--client-id", id, "--client-secret", secret, "--client-credentials"],
        None,
    );
    let tokens: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tokens["scope"], "notes:read");

    let list = run_ok(dir.path(), &["clients", "list", "--json"], None);
    assert!(list.contains(id));
    let shown = run_ok(dir.path(), &["clients", "show", id], None);
    assert!(shown.contains("Machine"));
    let rotated: Value =
        serde_json::from_str(&run_ok(dir.path(), &["clients", "rotate-secret", id, "--json"], None)).unwrap();
    // The server reuses a client registration for `client_cache_ttl` (1 s by default): a
    // change made by the CLI takes effect within that time.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let out = latchkey(
        dir.path(),
        &["token", "--issuer", &url, "--client-id", id, "--client-secret", secret, "--client-credentials"],
    )
    .output()
    .unwrap();
    assert!(!out.status.success(), "the old secret no longer works");
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid_client"));
    let new_secret = rotated["client_secret"].as_str().unwrap();
    run_ok(
        dir.path(),
        &["token", "--issuer", &url, "--client-id", id, "--client-secret", new_secret, "--client-credentials"],
        None,
    );
    run_ok(dir.path(), &["clients", "remove", id], None);
    assert!(!latchkey(dir.path(), &["clients", "show", id]).output().unwrap().status.success());

    run_ok(dir.path(), &["users", "add", "bob", "--password-stdin"], Some(&format!("{PASSWORD}\n")));
    assert!(run_ok(dir.path(), &["users", "list"], None).contains("bob"));
    let out = latchkey(dir.path(), &["users", "add", "bob", "--password-stdin"]).stdin(Stdio::null()).output().unwrap();
    assert!(!out.status.success());
    run_ok(dir.path(), &["users", "passwd", "bob", "--password-stdin"], Some("another password\n"));
    run_ok(dir.path(), &["users", "remove", "bob"], None);
}

#[tokio::test]
async fn cli_bad_settings_fail_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 6] = [
        (&["serve", "--bind", "nowhere"], &[], "bind"),
        (&["serve", "--issuer", "ftp://x"], &[], "issuer"),
        (&["migrate"], &[("LATCHKEY_CODE_TTL", "600")], "code_ttl"),
        (&["migrate"], &[("LATCHKEY_ACCESS_TOKEN_TTL", "soon")], "ACCESS_TOKEN_TTL"),
        (&["migrate"], &[("LATCHKEY_MAX_CLIENT_CONNECTIONS", "0")], "max_client_connections"),
        (&["--config", "/nonexistent/latchkey.toml", "migrate"], &[], "config"),
    ];
    for (args, env, name) in cases {
        let out = latchkey(dir.path(), args).envs(env.iter().copied()).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(name), "{name}: {err}");
    }
    let file = dir.path().join("latchkey.toml");
    std::fs::write(&file, "code_tll = 30\n").unwrap();
    let out = latchkey(dir.path(), &["--config", file.to_str().unwrap(), "migrate"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("code_tll"));
    std::fs::write(&file, "code_ttl = 30\ndatabase_url = \"sqlite://from-file.db\"\n").unwrap();
    run_ok(dir.path(), &["--config", file.to_str().unwrap(), "migrate"], None);
    assert!(dir.path().join("from-file.db").exists());
}

#[tokio::test]
async fn rfc8252_latchkey_token_gets_tokens_through_a_loopback_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve(dir.path()).await;
    let out = run_ok(
        dir.path(),
        &["clients", "add", "--name", "CLI", "--public", "--redirect-uri", "http://127.0.0.1/callback", "--json"],
        None,
    );
    let id = serde_json::from_str::<Value>(&out).unwrap()["client_id"].as_str().unwrap().to_owned();
    run_ok(dir.path(), &["users", "add", "carol", "--password-stdin"], Some(PASSWORD));

    let mut child =
        latchkey(dir.path(), &["token", "--issuer", &url, "--client-id", &id, "--scope", "profile", "--no-browser"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let auth_url = first_line(&mut child, |l| l.trim().strip_prefix("http").map(|rest| format!("http{rest}")))
        .await
        .expect("the CLI prints the authorization URL");

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let browser = Browser { http, base: url.clone() };
    let page = browser.get(&auth_url).await.text().await.unwrap();
    let res = browser.login(&page, "carol", PASSWORD).await;
    let page = browser.get(&location(&res)).await.text().await.unwrap();
    let res = browser.decide(&page, "allow").await;
    let redirect = location(&res);
    assert!(redirect.starts_with("http://127.0.0.1:"), "{redirect}");
    let res = browser.get(&redirect).await;
    assert_eq!(res.status(), StatusCode::OK);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(out.status.success());
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tokens["scope"], "profile");
    assert!(tokens["refresh_token"].is_string());
}

#[tokio::test]
async fn rfc8628_latchkey_token_device_polls_until_the_user_approves() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, url) = serve_with(dir.path(), &[("LATCHKEY_DEVICE_POLL_INTERVAL", "1")]).await;
    let out = run_ok(
        dir.path(),
        &["clients", "add", "--name", "TV", "--public", "--grant-type", "device_code", "--json"],
        None,
    );
    let id = serde_json::from_str::<Value>(&out).unwrap()["client_id"].as_str().unwrap().to_owned();
    run_ok(dir.path(), &["users", "add", "dave", "--password-stdin"], Some(PASSWORD));
    let mut child =
        latchkey(dir.path(), &["token", "--issuer", &url, "--client-id", &id, "--device", "--scope", "profile"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let code = first_line(&mut child, |l| l.split("enter the code").nth(1).map(|c| c.trim().to_owned()))
        .await
        .expect("the CLI shows the user code");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let browser = Browser { http, base: url.clone() };
    let page = browser.get(&format!("/device?user_code={code}")).await.text().await.unwrap();
    let res = browser.login(&page, "dave", PASSWORD).await;
    let page = browser.get(&location(&res)).await.text().await.unwrap();
    let csrf = crate::harness::field(&page, "csrf").unwrap();
    let res = browser.post("/device", &[("csrf", &csrf), ("user_code", &code), ("decision", "allow")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tokens: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tokens["scope"], "profile");
}

#[tokio::test]
async fn cli_keys_and_registration_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let list = run_ok(dir.path(), &["keys", "list"], None);
    assert!(list.contains("ES256") && list.contains("signing"), "{list}");
    let out = run_ok(dir.path(), &["keys", "rotate", "--alg", "RS256"], None);
    let kid = out.split_whitespace().nth(2).unwrap().to_owned();
    let list = run_ok(dir.path(), &["keys", "list"], None);
    assert!(list.lines().any(|l| l.contains(&kid) && l.contains("RS256") && l.contains("pending")), "{list}");
    let old = list.lines().find(|l| l.contains("signing")).unwrap().split_whitespace().next().unwrap().to_owned();
    // The RS256 key signs only after the overlap: the old one is the last that signs now.
    let out = latchkey(dir.path(), &["keys", "retire", &old]).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("signs in"));
    // With no overlap, a new key signs at once, and the old one can be retired.
    let out = latchkey(dir.path(), &["keys", "rotate"]).env("LATCHKEY_KEY_OVERLAP", "0").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    run_ok(dir.path(), &["keys", "retire", &old], None);
    assert!(run_ok(dir.path(), &["keys", "list"], None).lines().any(|l| l.contains(&old) && l.contains("retired")));
    let out = latchkey(dir.path(), &["keys", "rotate", "--alg", "HS256"]).output().unwrap();
    assert!(!out.status.success());

    let token = run_ok(dir.path(), &["registration-tokens", "create", "--uses", "2", "--expires", "1h"], None);
    assert!(token.trim().starts_with("lkreg_"));
    let out = latchkey(dir.path(), &["registration-tokens", "create", "--expires", "soon"]).output().unwrap();
    assert!(!out.status.success());
}

#[tokio::test]
async fn cli_audit_and_revoke_consent() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_ok(dir.path(), &["clients", "add", "--name", "M", "--json"], None);
    let id = serde_json::from_str::<Value>(&out).unwrap()["client_id"].as_str().unwrap().to_owned();
    run_ok(dir.path(), &["clients", "rotate-secret", &id], None);
    run_ok(dir.path(), &["keys", "rotate"], None);
    let trail = run_ok(dir.path(), &["audit"], None);
    assert!(trail.contains("client_secret_rotated") && trail.contains("key_rotated"), "{trail}");
    let json = run_ok(dir.path(), &["audit", "--kind", "key_rotated", "--json"], None);
    assert_eq!(json.lines().count(), 1);
    assert_eq!(serde_json::from_str::<Value>(json.lines().next().unwrap()).unwrap()["kind"], "key_rotated");
    run_ok(dir.path(), &["users", "add", "erin", "--password-stdin"], Some(PASSWORD));
    let out = latchkey(dir.path(), &["users", "revoke-consent", "erin", &id]).output().unwrap();
    assert!(!out.status.success(), "no consent to withdraw");
}

#[tokio::test]
async fn no_secret_reaches_the_logs_even_at_trace_level() {
    let dir = tempfile::tempdir().unwrap();
    let client = TestClient::from_cli(&run_ok(dir.path(), WEB_CLIENT_ARGS, None), WEB_REDIRECT);
    run_ok(dir.path(), &["users", "add", "frank", "--password-stdin"], Some(PASSWORD));
    let port = free_port();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let child = latchkey(dir.path(), &["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("LATCHKEY_LOG", "trace")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let server = Served(child, port);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let started = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let browser = Browser { http: http.clone(), base: base.clone() };
    let mut secrets = vec![client.secret.clone().unwrap(), PASSWORD.to_owned()];
    let location = browser.authorize(&crate::harness::authorize_query(&client, &[]), "frank").await;
    let code = crate::harness::param(&location, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://app.example/cb"),
        ("code_verifier", crate::harness::VERIFIER),
    ];
    let tokens: Value = http
        .post(format!("{base}/token"))
        .basic_auth(&client.id, client.secret.as_ref())
        .form(&form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let refreshed: Value = http
        .post(format!("{base}/token"))
        .basic_auth(&client.id, client.secret.as_ref())
        .form(&[("grant_type", "refresh_token"), ("refresh_token", tokens["refresh_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let wrong = http
        .post(format!("{base}/token"))
        .basic_auth(&client.id, Some("lks_wrong-secret-wrong-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let session_cookie = http.get(format!("{base}/login")).send().await.unwrap();
    drop(session_cookie);
    secrets.extend([
        code,
        crate::harness::VERIFIER.to_owned(),
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
        refreshed["refresh_token"].as_str().unwrap().to_owned(),
        "lks_wrong-secret-wrong-secret".to_owned(),
    ]);
    drop(server);
    let logs = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(logs.lines().count() > 20, "trace logging was on: {} lines", logs.lines().count());
    for s in &secrets {
        assert!(!logs.contains(s.as_str()), "a secret ({}…) is in the logs", &s[..6]);
    }
    // The session id never shows either.
    assert!(!logs.contains("lkss_"));
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_and_exits_promptly() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(dir.path(), &["users", "add", "gina", "--password-stdin"], Some(PASSWORD));
    let (mut server, _url) = serve(dir.path()).await;
    let port = free_port_of(&server);
    let base = format!("http://127.0.0.1:{port}");
    // Logins hash a password (the slowest request there is): keep many in flight. Each
    // uses a fresh connection, so a request is either in flight or refused at connect.
    let mut forms = Vec::new();
    for _ in 0..16 {
        let http = reqwest::Client::builder().cookie_store(true).pool_max_idle_per_host(0).no_proxy().build().unwrap();
        let page = http.get(format!("{base}/login")).send().await.unwrap().text().await.unwrap();
        forms.push((http, crate::harness::field(&page, "csrf").unwrap()));
    }
    let mut inflight = Vec::new();
    for (http, csrf) in forms {
        let base = base.clone();
        inflight.push(tokio::spawn(async move {
            http.post(format!("{base}/login"))
                .form(&[("csrf", csrf.as_str()), ("username", "gina"), ("password", "wrong password")])
                .send()
                .await
        }));
    }
    // Long enough for every request to be accepted (hashing, two at a time, takes longer),
    // short enough that most are still being worked on: the signal lands mid-flight.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let started = Instant::now();
    for task in inflight {
        let res = task.await.unwrap().expect("an in-flight request was cut");
        // Answered in full: a failed login, or (once five have failed) a throttled one.
        assert!(matches!(res.status(), StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS), "{}", res.status());
        assert!(res.text().await.unwrap().contains("</html>"));
    }
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status}");
    assert!(reqwest::Client::new().get(format!("{base}/healthz")).send().await.is_err(), "new requests are refused");
}

/// `max_client_connections` reaches the listener of `latchkey serve`: beyond it, new
/// connections are closed at once (long before the 10 s header timeout could close them).
#[tokio::test]
async fn serve_closes_connections_beyond_max_client_connections() {
    use tokio::io::AsyncReadExt;
    let dir = tempfile::tempdir().unwrap();
    let (server, _url) = serve_with(dir.path(), &[("LATCHKEY_MAX_CLIENT_CONNECTIONS", "2")]).await;
    let mut silent = Vec::new();
    for _ in 0..5 {
        silent.push(tokio::net::TcpStream::connect(("127.0.0.1", free_port_of(&server))).await.unwrap());
    }
    let mut closed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    for mut stream in silent {
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout_at(deadline, stream.read(&mut buf)).await;
        closed += usize::from(matches!(read, Ok(Ok(0) | Err(_))));
    }
    // At most two are held (one slot may still be taken by the start-up probe's connection).
    assert!(closed >= 3, "{closed} of 5 closed");
}

fn free_port_of(s: &Served) -> u16 {
    s.1
}

#[tokio::test]
async fn ids_that_start_with_a_hyphen_are_not_read_as_flags() {
    let dir = tempfile::tempdir().unwrap();
    let out = latchkey(dir.path(), &["clients", "show", "-L7ueuz0bhNAZmuAvxoOsw"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no client with id `-L7ueuz0bhNAZmuAvxoOsw`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = latchkey(
        dir.path(),
        &[
            "token",
            "--issuer",
            "http://127.0.0.1:9",
            "--client-id",
            "-abc",
            "--client-secret",
            "-x",
            "--client-credentials",
        ],
    )
    .output()
    .unwrap();
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("unexpected argument"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// SIGTERM stops `serve` cleanly: the writes it was told about are kept, and on SQLite the
/// write-ahead log is folded into the database file and removed, not left for the next
/// start to recover.
#[tokio::test]
async fn serve_on_sigterm_keeps_its_writes_and_leaves_no_log() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, url) = serve(dir.path()).await;
    let out = run_ok(dir.path(), &["clients", "add", "--name", "Machine", "--scope", "notes:read", "--json"], None);
    let creds: Value = serde_json::from_str(&out).unwrap();
    let (id, secret) = (creds["client_id"].as_str().unwrap(), creds["client_secret"].as_str().unwrap());
    let token_args = ["token", "--issuer", &url, "--client-id", id, "--client-secret", secret, "--client-credentials"];
    run_ok(dir.path(), &token_args, None);
    assert!(dir.path().join("latchkey.db-wal").exists(), "the server writes through the log");

    let term = Command::new("kill").args(["-TERM", &server.0.id().to_string()]).status().unwrap();
    assert!(term.success());
    let exited = server.0.wait().unwrap();
    assert!(exited.success(), "{exited:?}");
    assert!(!dir.path().join("latchkey.db-wal").exists(), "the log was left behind");
    assert!(run_ok(dir.path(), &["clients", "list", "--json"], None).contains(id));
}
