//! The demo in headless Chromium: RFC 6749 Figure 1 as a newcomer sees it.
//!
//! Needs `chromium` and `chromium-driver` (Debian). When they are missing the test is
//! skipped with a message, unless `LATCHKEY_BROWSER_TESTS=1` (set by `.ci/run`) makes it
//! required.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn required() -> bool {
    std::env::var("LATCHKEY_BROWSER_TESTS").is_ok_and(|v| v == "1")
}

async fn start_driver() -> Option<(Driver, String)> {
    let exists = |p: &str| std::path::Path::new(p).exists();
    if !exists("/usr/bin/chromedriver") || !exists("/usr/bin/chromium") {
        assert!(!required(), "LATCHKEY_BROWSER_TESTS=1 but chromium/chromedriver are not installed");
        eprintln!("skipping the browser test: install chromium and chromium-driver to run it");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let start = Instant::now();
    while http.get(format!("{url}/status")).send().await.is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some((Driver(child), url))
}

/// Waits until the page's text (after any navigation) satisfies `ready`; returns it.
async fn wait_until(c: &fantoccini::Client, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let text = match c.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if ready(&text) {
            return text;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "page never showed {what}; it shows:\n{text}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Keeps a picture of the page for people to look at (`target/tmp/demo-*.png`).
async fn snapshot(c: &fantoccini::Client, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("demo-{name}.png")), png);
    }
}

async fn wait_text(c: &fantoccini::Client, needle: &str) -> String {
    wait_until(c, needle, |t| t.contains(needle)).await
}

async fn click(c: &fantoccini::Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn browser(driver_url: &str, profile: &std::path::Path) -> fantoccini::Client {
    let caps = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-quic", "--window-size=1100,1400", "--no-first-run", "--disable-component-update", "--disable-sync",
                     format!("--user-data-dir={}", profile.display())]
        }
    });
    let serde_json::Value::Object(caps) = caps else { unreachable!() };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(driver_url)
        .await
        .unwrap()
}

#[tokio::test]
async fn rfc8628_device_flow_in_a_browser_type_the_code_log_in_allow() {
    let Some((_driver, driver_url)) = start_driver().await else { return };
    let t = crate::harness::TestServer::start_real_time(|s| s.device_poll_interval = 1).await;
    t.user("alice").await;
    let tv = crate::device::device_client(&t).await;
    // The device: asks, shows the code, polls.
    let oauth = latchkey_client::OAuthClient::discover(&t.url, &tv.id, None).await.unwrap();
    let auth = oauth.device_authorization(Some("profile")).await.unwrap();
    // Typed the lazy way: lower case, no dash (§6.1 says both are fine).
    let typed = auth.user_code.replace('-', "").to_lowercase();
    let poller = tokio::spawn(async move { oauth.poll_device(&auth).await });

    // The user, on another screen.
    let dir = tempfile::tempdir().unwrap();
    let c = browser(&driver_url, &dir.path().join("profile")).await;
    c.goto(&format!("{}/device", t.url)).await.unwrap();
    c.find(Locator::Css("#username")).await.unwrap().send_keys("alice").await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(crate::harness::PASSWORD).await.unwrap();
    click(&c, "button[type=submit]").await;
    wait_text(&c, "Enter the code shown on your device").await;
    snapshot(&c, "device-code").await;
    c.find(Locator::Css("#user_code")).await.unwrap().send_keys(&typed).await.unwrap();
    click(&c, "button[type=submit]").await;
    let text = wait_text(&c, "Connect Smart TV?").await;
    assert!(text.contains("See your username and profile"), "{text}");
    snapshot(&c, "device-consent").await;
    click(&c, "button[value=allow]").await;
    wait_text(&c, "Device connected").await;
    let tokens = tokio::time::timeout(Duration::from_secs(20), poller).await.unwrap().unwrap().unwrap();
    assert_eq!(tokens.scope.as_deref(), Some("profile"));
    assert!(tokens.refresh_token.is_some());
    c.close().await.unwrap();
}

#[tokio::test]
async fn demo_in_a_browser_log_in_allow_see_protected_data_expire_refresh() {
    let Some((_driver, driver_url)) = start_driver().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Access tokens live 3 s so the test can watch one expire.
    let demo = latchkey::demo::start(0, &dir.path().join("demo.db"), 3).await.unwrap();

    let c = browser(&driver_url, &dir.path().join("chrome-profile")).await;

    c.goto(&demo.client_url).await.unwrap();
    click(&c, "#sign-in").await;
    // (A) The authorization server's login page, not the client's.
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#username")).await.unwrap();
    let url = c.current_url().await.unwrap();
    assert!(url.as_str().starts_with(&demo.issuer), "{url}");
    c.find(Locator::Css("#username")).await.unwrap().send_keys(latchkey::demo::DEMO_USER).await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(latchkey::demo::DEMO_PASSWORD).await.unwrap();
    click(&c, "button[type=submit]").await;
    // The consent page names the client and each scope in words.
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("button[value=allow]")).await.unwrap();
    let consent = wait_text(&c, "Latchkey Demo Client").await;
    assert!(consent.contains("See your username and profile") && consent.contains("Read your notes"), "{consent}");
    snapshot(&c, "consent").await;
    click(&c, "button[value=allow]").await;
    // (B)-(D) Back at the client, which holds tokens.
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css("#call-profile")).await.unwrap();
    assert!(c.current_url().await.unwrap().as_str().starts_with(&demo.client_url));
    let text = wait_text(&c, "Token request").await;
    assert!(text.contains("access_token"), "{text}");
    // (E)-(F) The protected data.
    click(&c, "#call-profile").await;
    let text = wait_text(&c, "GET /api/profile → 200 OK").await;
    assert!(text.contains("This is your profile"), "{text}");
    click(&c, "#call-notes").await;
    wait_text(&c, "The client never saw my password.").await;
    click(&c, "#call-tampered").await;
    wait_text(&c, "error=\"invalid_token\"").await;
    // The token expires; the API says so; the refresh token gets a new one.
    tokio::time::sleep(Duration::from_secs(4)).await;
    click(&c, "#call-profile").await;
    let text = wait_text(&c, "the token has expired").await;
    assert!(text.contains("→ 401 Unauthorized"), "{text}");
    click(&c, "#refresh").await;
    wait_text(&c, "Refresh: the client used its refresh token").await;
    click(&c, "#call-profile").await;
    // The call after the refresh succeeds again: a second 200 in the log.
    wait_until(&c, "a second successful call", |t| t.matches("GET /api/profile → 200 OK").count() == 2).await;
    snapshot(&c, "client").await;
    c.close().await.unwrap();
    demo.stop();
}
