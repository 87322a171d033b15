//! Kill -9 under load loses nothing promised: every token handed out before the kill still
//! works after a restart, no code is redeemed twice across the crash, and the database
//! passes its integrity check.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{Browser, PASSWORD, TestClient, VERIFIER, authorize_query, param};
use crate::scale_out::{Instance, cli, start};

fn client(json: &str, redirect: &str) -> TestClient {
    let v: Value = serde_json::from_str(json).unwrap();
    TestClient {
        id: v["client_id"].as_str().unwrap().into(),
        secret: v["client_secret"].as_str().map(Into::into),
        redirect_uri: redirect.into(),
    }
}

/// One server with the grace period off (a second use of a refresh token must fail).
async fn serve(db: &str) -> Instance {
    start(db, 1, &[("LATCHKEY_REFRESH_GRACE_PERIOD", "0")]).await.remove(0)
}

#[derive(Default)]
struct Received {
    access_tokens: Vec<String>,
    refresh_tokens: Vec<String>,
    redeemed_codes: Vec<String>,
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[tokio::test]
async fn kill_9_under_load_loses_nothing_promised_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    crash_rounds(&db).await;
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check").fetch_one(&pool).await.unwrap();
    assert_eq!(check, "ok");
    pool.close().await;
}

#[tokio::test]
async fn kill_9_under_load_loses_nothing_promised_on_postgresql() {
    let Some(pg) = crate::scale_out::PgDatabase::create().await else { return };
    let db = pg.url.clone();
    pg.run(async move { crash_rounds(&db).await }).await;
}

async fn crash_rounds(db: &str) {
    let web = client(
        &cli(db, &["clients", "add", "--name", "Web", "--redirect-uri", "https://app.example/cb", "--json"], None),
        "https://app.example/cb",
    );
    let opaque =
        client(&cli(db, &["clients", "add", "--name", "Opaque", "--token-format", "opaque", "--json"], None), "");
    let rs = client(&cli(db, &["clients", "add", "--name", "Resource server", "--introspect", "--json"], None), "");
    cli(db, &["users", "add", "hana", "--password-stdin"], Some(PASSWORD));
    let mut server = serve(db).await;
    // A logged-in browser with remembered consent mints codes quickly.
    let cookies = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let browser = Browser { http: cookies.clone(), base: server.url.clone() };
    browser.authorize(&authorize_query(&web, &[]), "hana").await;

    let mut codes_checked = 0;
    for round in 0..3 {
        let base = server.url.clone();
        let received = Arc::new(Mutex::new(Received::default()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut load = Vec::new();
        for worker in 0..4 {
            let (received, stop, base, web, opaque, cookies) =
                (received.clone(), stop.clone(), base.clone(), web.clone(), opaque.clone(), cookies.clone());
            load.push(tokio::spawn(async move {
                let http = http();
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    if worker % 2 == 0 {
                        // The code flow: authorize (302 with a code), then redeem it.
                        let Ok(res) =
                            cookies.get(format!("{base}/authorize?{}", authorize_query(&web, &[]))).send().await
                        else {
                            break;
                        };
                        let Some(code) =
                            res.headers().get("location").and_then(|l| param(l.to_str().unwrap_or(""), "code"))
                        else {
                            continue;
                        };
                        let form = [
                            ("grant_type", "authorization_code"),
                            ("code", code.as_str()),
                            ("redirect_uri", "https://app.example/cb"),
                            ("code_verifier", VERIFIER),
                        ];
                        let Ok(res) = http
                            .post(format!("{base}/token"))
                            .basic_auth(&web.id, web.secret.as_ref())
                            .form(&form)
                            .send()
                            .await
                        else {
                            break;
                        };
                        if res.status() == StatusCode::OK
                            && let Ok(t) = res.json::<Value>().await
                        {
                            let mut r = received.lock().unwrap();
                            r.access_tokens.push(t["access_token"].as_str().unwrap().into());
                            r.refresh_tokens.push(t["refresh_token"].as_str().unwrap().into());
                            r.redeemed_codes.push(code);
                        }
                    } else {
                        // Opaque access tokens: a row written per token.
                        let Ok(res) = http
                            .post(format!("{base}/token"))
                            .basic_auth(&opaque.id, opaque.secret.as_ref())
                            .form(&[("grant_type", "client_credentials")])
                            .send()
                            .await
                        else {
                            break;
                        };
                        if res.status() == StatusCode::OK
                            && let Ok(t) = res.json::<Value>().await
                        {
                            received.lock().unwrap().access_tokens.push(t["access_token"].as_str().unwrap().into());
                        }
                    }
                }
            }));
        }
        // Once the load runs, kill at a moment the test does not choose exactly.
        let waiting = Instant::now();
        while received.lock().unwrap().access_tokens.is_empty() {
            assert!(waiting.elapsed() < Duration::from_secs(20), "round {round}: no token under load");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
        tokio::time::sleep(Duration::from_millis(300 + u64::from(nanos % 500))).await;
        drop(server); // SIGKILL
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        for l in load {
            let _ = l.await;
        }

        server = serve(db).await;
        let base = server.url.clone();
        let r = std::mem::take(&mut *received.lock().unwrap());
        assert!(!r.access_tokens.is_empty(), "round {round}: the load ran");
        codes_checked += r.redeemed_codes.len();
        let http = http();
        for at in &r.access_tokens {
            let v: Value = http
                .post(format!("{base}/introspect"))
                .basic_auth(&rs.id, rs.secret.as_ref())
                .form(&[("token", at.as_str())])
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(v["active"], true, "round {round}: a token handed out before the kill is not active");
        }
        for rt in &r.refresh_tokens {
            let form = [("grant_type", "refresh_token"), ("refresh_token", rt.as_str())];
            let first = http
                .post(format!("{base}/token"))
                .basic_auth(&web.id, web.secret.as_ref())
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(
                first.status(),
                StatusCode::OK,
                "round {round}: a refresh token handed out before the kill does not work"
            );
            let again = http
                .post(format!("{base}/token"))
                .basic_auth(&web.id, web.secret.as_ref())
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(again.status(), StatusCode::BAD_REQUEST, "round {round}: a refresh token worked twice");
        }
        for code in &r.redeemed_codes {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", "https://app.example/cb"),
                ("code_verifier", VERIFIER),
            ];
            let res = http
                .post(format!("{base}/token"))
                .basic_auth(&web.id, web.secret.as_ref())
                .form(&form)
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                StatusCode::BAD_REQUEST,
                "round {round}: a code was redeemed twice across the crash"
            );
        }
        eprintln!(
            "round {round}: {} access tokens, {} refresh tokens, {} codes checked after kill -9",
            r.access_tokens.len(),
            r.refresh_tokens.len(),
            r.redeemed_codes.len()
        );
    }
    assert!(codes_checked > 0, "the code flow ran");
}
