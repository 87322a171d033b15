//! The device authorization grant, RFC 8628, over HTTP.

use latchkey_flows::NewClient;
use latchkey_protocol::client::GrantType;
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::*;

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

pub async fn device_client(t: &TestServer) -> TestClient {
    t.client_with(NewClient {
        name: "Smart TV".into(),
        public: true,
        grant_types: vec![GrantType::DeviceCode, GrantType::RefreshToken],
        ..NewClient::default()
    })
    .await
}

pub async fn start(t: &TestServer, client: &TestClient, scope: &str) -> Value {
    let res = t
        .http()
        .post(format!("{}/device_authorization", t.url))
        .form(&[("client_id", client.id.as_str()), ("scope", scope)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn poll(t: &TestServer, client: &TestClient, device_code: &str) -> reqwest::Response {
    t.token(client, &[("grant_type", DEVICE_GRANT), ("device_code", device_code)]).await
}

/// The user's side: open the verification URI (with the code), log in, decide.
async fn approve(t: &TestServer, user_code: &str, decision: &str) -> String {
    let browser = t.browser();
    let page = browser.get(&format!("/device?user_code={user_code}")).await.text().await.unwrap();
    let res = browser.login(&page, "alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let page = browser.get(&location(&res)).await.text().await.unwrap();
    assert!(page.contains("Smart TV") && page.contains("See your username and profile"), "{page}");
    let csrf = field(&page, "csrf").unwrap();
    let code = field(&page, "user_code").unwrap();
    browser
        .post("/device", &[("csrf", &csrf), ("user_code", &code), ("decision", decision)])
        .await
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn rfc8628_3_2_device_authorization_response() {
    let t = TestServer::start().await;
    let client = device_client(&t).await;
    let r = start(&t, &client, "profile").await;
    let user_code = r["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(user_code.chars().filter(|c| *c != '-').all(|c| "BCDFGHJKLMNPQRSTVWXZ".contains(c)), "{user_code}");
    assert!(r["device_code"].as_str().unwrap().starts_with("lkd_"));
    assert_eq!(r["verification_uri"], format!("{}/device", t.url));
    assert_eq!(r["verification_uri_complete"], format!("{}/device?user_code={user_code}", t.url));
    assert_eq!(r["expires_in"], 600);
    assert_eq!(r["interval"], 5);
    // A client without the grant, and an unknown scope, are refused.
    let other = t.confidential_client().await;
    let res = t
        .http()
        .post(format!("{}/device_authorization", t.url))
        .basic_auth(&other.id, other.secret.as_ref())
        .form(&[("scope", "profile")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "unauthorized_client");
    let res = t
        .http()
        .post(format!("{}/device_authorization", t.url))
        .form(&[("client_id", client.id.as_str()), ("scope", "admin")])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "invalid_scope");
}

#[tokio::test]
async fn rfc8628_3_5_pending_slow_down_then_tokens_exactly_once() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let client = device_client(&t).await;
    let r = start(&t, &client, "profile").await;
    let dc = r["device_code"].as_str().unwrap();
    assert_eq!(error_code(poll(&t, &client, dc).await).await, "authorization_pending");
    // Polling again at once is too fast: slow_down, and the interval grows by 5 s.
    assert_eq!(error_code(poll(&t, &client, dc).await).await, "slow_down");
    t.clock.advance(6);
    assert_eq!(error_code(poll(&t, &client, dc).await).await, "slow_down", "the interval is now 10 s, then 15 s");
    t.clock.advance(15);
    assert_eq!(error_code(poll(&t, &client, dc).await).await, "authorization_pending");

    let page = approve(&t, r["user_code"].as_str().unwrap(), "allow").await;
    assert!(page.contains("Device connected"), "{page}");
    t.clock.advance(15);
    let res = poll(&t, &client, dc).await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["scope"], "profile");
    assert!(tokens["refresh_token"].is_string());
    t.clock.advance(15);
    assert_eq!(error_code(poll(&t, &client, dc).await).await, "invalid_grant", "exactly once");
    // Another client cannot redeem it.
    let other = device_client(&t).await;
    assert_eq!(error_code(poll(&t, &other, dc).await).await, "invalid_grant");
}

#[tokio::test]
async fn rfc8628_3_5_access_denied_and_expired_token() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let client = device_client(&t).await;
    let r = start(&t, &client, "profile").await;
    let page = approve(&t, r["user_code"].as_str().unwrap(), "deny").await;
    assert!(page.contains("denied"), "{page}");
    assert_eq!(error_code(poll(&t, &client, r["device_code"].as_str().unwrap()).await).await, "access_denied");
    let r = start(&t, &client, "profile").await;
    t.clock.advance(600);
    assert_eq!(error_code(poll(&t, &client, r["device_code"].as_str().unwrap()).await).await, "expired_token");
}

#[tokio::test]
async fn rfc8628_6_1_codes_are_case_and_dash_insensitive_and_guessing_is_limited() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let client = device_client(&t).await;
    let r = start(&t, &client, "profile").await;
    let browser = t.browser();
    let page = browser.get("/device").await.text().await.unwrap();
    let res = browser.login(&page, "alice", PASSWORD).await;
    assert_eq!(location(&res), "/device");
    let typed = r["user_code"].as_str().unwrap().replace('-', "").to_lowercase();
    let page = browser.get(&format!("/device?user_code={typed}")).await.text().await.unwrap();
    assert!(page.contains("Connect <strong>Smart TV</strong>"), "{page}");
    for _ in 0..10 {
        let res = browser.get("/device?user_code=BBBB-BBBB").await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.text().await.unwrap().contains("not valid"));
    }
    let res = browser.get(&format!("/device?user_code={typed}")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "even a right code waits now");
}

/// Logs alice in on the device page and opens the request of `user_code` (a right code,
/// so not counted): the CSRF token of its decision form.
async fn logged_in(browser: &Browser, user_code: &str) -> String {
    let page = browser.get("/device").await.text().await.unwrap();
    let res = browser.login(&page, "alice", PASSWORD).await;
    assert_eq!(location(&res), "/device");
    let page = browser.get(&format!("/device?user_code={user_code}")).await.text().await.unwrap();
    field(&page, "csrf").unwrap()
}

async fn decide(browser: &Browser, csrf: &str, user_code: &str) -> reqwest::Response {
    browser.post("/device", &[("csrf", csrf), ("user_code", user_code), ("decision", "allow")]).await
}

#[tokio::test]
async fn rfc8628_5_1_wrong_codes_on_the_decision_are_counted() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let client = device_client(&t).await;
    let r = start(&t, &client, "profile").await;
    let (user_code, dc) = (r["user_code"].as_str().unwrap(), r["device_code"].as_str().unwrap());
    let browser = t.browser();
    let csrf = logged_in(&browser, user_code).await;
    // The decision carries a user code: guessing it there counts as on the entry form.
    for i in 0..10 {
        let res = decide(&browser, &csrf, &format!("BBBB-BB{}", ["BB", "BC", "BD", "BF", "BG"][i % 5])).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "guess {i}");
    }
    let res = decide(&browser, &csrf, user_code).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "even the right code is not looked up now");
    let retry_after: i64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=600).contains(&retry_after), "{retry_after}");
    assert!(res.text().await.unwrap().contains("Too many wrong codes"));
    assert_eq!(error_code(poll(&t, &client, dc).await).await, "authorization_pending", "nothing was decided");
    // The entry form shares the count.
    let res = browser.get(&format!("/device?user_code={user_code}")).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another user is not held back by alice's guesses.
    t.user("bob").await;
    let other = t.browser();
    let page = other.get(&format!("/device?user_code={user_code}")).await.text().await.unwrap();
    let res = other.login(&page, "bob", PASSWORD).await;
    assert_eq!(other.get(&location(&res)).await.status(), StatusCode::OK);
    // Once the window has passed, a right code is accepted; right codes are not counted.
    t.clock.advance(600);
    let r = start(&t, &client, "profile").await;
    let user_code = r["user_code"].as_str().unwrap();
    for _ in 0..12 {
        assert_eq!(browser.get(&format!("/device?user_code={user_code}")).await.status(), StatusCode::OK);
    }
    let page = decide(&browser, &csrf, user_code).await.text().await.unwrap();
    assert!(page.contains("Device connected"), "{page}");
}

#[tokio::test]
async fn rfc8628_5_1_wrong_user_codes_are_counted_across_instances() {
    use crate::scale_out::{PgDatabase, cli, start as serve};
    let Some(db) = PgDatabase::create().await else { return };
    let url = db.url.clone();
    db.run(async move {
        cli(&url, &["users", "add", "alice", "--password-stdin"], Some(PASSWORD));
        let out =
            cli(&url, &["clients", "add", "--name", "TV", "--public", "--grant-type", DEVICE_GRANT, "--json"], None);
        let client = TestClient::from_cli(&out, "");
        let nodes = serve(&url, 2, &[]).await;
        let [a, b] = [nodes[0].url.as_str(), nodes[1].url.as_str()];
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let r: serde_json::Value = http
            .post(format!("{a}/device_authorization"))
            .form(&[("client_id", client.id.as_str()), ("scope", "profile")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let user_code = r["user_code"].as_str().unwrap();
        let cookies = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .unwrap();
        let on = |base: &str| Browser { http: cookies.clone(), base: base.to_owned() };
        let csrf = logged_in(&on(a), user_code).await;
        // Ten wrong codes, alternating between the instances and between the two paths.
        for i in 0..10 {
            let node = on([a, b][i % 2]);
            let res = if i < 5 {
                node.get("/device?user_code=BBBB-BBBB").await
            } else {
                decide(&node, &csrf, "BBBB-BBBB").await
            };
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "guess {i}");
        }
        for node in [a, b] {
            let res = on(node).get(&format!("/device?user_code={user_code}")).await;
            assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{node}: the count is shared");
            let res = decide(&on(node), &csrf, user_code).await;
            assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "{node}: the count is shared");
        }
        drop(nodes);
    })
    .await;
}

/// A device code row whose scope no longer parses is the server's fault, not the client's:
/// `server_error` (RFC 6749 §5.2) with a generic description, and the 500 page on the
/// verification page; the stored value is not echoed.
#[tokio::test]
async fn issue_18_rfc6749_5_2_a_corrupt_stored_scope_is_a_server_error() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let client = device_client(&t).await;
    let r = start(&t, &client, "profile").await;
    let (user_code, dc) = (r["user_code"].as_str().unwrap(), r["device_code"].as_str().unwrap());
    let page = approve(&t, user_code, "allow").await;
    assert!(page.contains("Device connected"), "{page}");
    let pool = sqlx::SqlitePool::connect(&t.db_url).await.unwrap();
    sqlx::query("UPDATE device_codes SET scope = 'pro\"file'").execute(&pool).await.unwrap();

    t.clock.advance(15);
    let res = poll(&t, &client, dc).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "server_error", "{body}");
    assert_eq!(body["error_description"], "internal error", "{body}");

    let r = start(&t, &client, "profile").await;
    sqlx::query("UPDATE device_codes SET scope = 'pro\"file'").execute(&pool).await.unwrap();
    let browser = t.browser();
    let page = browser.get("/device").await.text().await.unwrap();
    browser.login(&page, "alice", PASSWORD).await;
    let res = browser.get(&format!("/device?user_code={}", r["user_code"].as_str().unwrap())).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let page = res.text().await.unwrap();
    assert!(page.contains("server_error") && !page.contains("pro&quot;file") && !page.contains("pro\"file"), "{page}");
}
