//! `/metrics` (Prometheus text format) on its own listener (`metrics_bind`).

use reqwest::StatusCode;

use crate::harness::{TestClient, TestServer};
use crate::scale_out::{cli, start};

/// The value of the one sample of `name` whose labels include every `labels` pair.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} ")))
        .find(|l| labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\""))))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_tokens_and_pool_use_on_their_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("latchkey.db").display());
    let client = TestClient::from_cli(&cli(&db, &["clients", "add", "--name", "M2M", "--json"], None), "");
    let metrics_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind = format!("127.0.0.1:{metrics_port}");
    let nodes = start(&db, 1, &[("LATCHKEY_METRICS_BIND", &bind)]).await;
    let node = &nodes[0].url;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token = |secret: String| {
        http.post(format!("{node}/token"))
            .basic_auth(&client.id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
    };
    for _ in 0..2 {
        assert_eq!(token(client.secret.clone().unwrap()).await.unwrap().status(), StatusCode::OK);
    }
    assert_eq!(token("wrong".into()).await.unwrap().status(), StatusCode::UNAUTHORIZED);

    let res = http.get(format!("http://{bind}/metrics")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = res.text().await.unwrap();
    let requests = "latchkey_http_requests_total";
    let ok = [("endpoint", "/token"), ("method", "POST"), ("status", "200")];
    assert_eq!(sample(&text, requests, &ok), Some(2.0), "{text}");
    let refused = [("endpoint", "/token"), ("status", "401")];
    assert_eq!(sample(&text, requests, &refused), Some(1.0), "{text}");
    let le = [("endpoint", "/token"), ("status", "200"), ("le", "+Inf")];
    assert_eq!(sample(&text, "latchkey_http_request_duration_seconds_bucket", &le), Some(2.0), "{text}");
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(sample(&text, "latchkey_tokens_issued_total", &cc), Some(2.0), "{text}");
    assert!(sample(&text, "latchkey_store_pool_connections", &[("state", "max")]).is_some_and(|n| n >= 1.0));
    assert!(sample(&text, "latchkey_store_pool_connections", &[("state", "in_use")]).is_some());
    assert!(text.contains("# HELP latchkey_tokens_issued_total"));

    // Not on the public listener.
    assert_eq!(http.get(format!("{node}/metrics")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn failed_logins_are_counted_by_reason() {
    let t = TestServer::start().await;
    t.user("carol").await;
    let browser = t.browser();
    let page = browser.get("/login").await.text().await.unwrap();
    assert_eq!(browser.login(&page, "carol", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    // The recorder is per process and shared by the tests running in it: at least ours.
    let text = latchkey_server::metrics::handle().unwrap().render();
    let failed = sample(&text, "latchkey_login_failures_total", &[("reason", "bad_credentials")]);
    assert!(failed.is_some_and(|n| n >= 1.0), "{text}");
}
