//! The authorization endpoint, RFC 6749 §4.1.1–§4.1.2.1, PKCE (RFC 7636), loopback
//! redirects (RFC 8252 §7.3), login and consent pages.

use latchkey_flows::NewClient;
use reqwest::StatusCode;

use crate::harness::*;

#[tokio::test]
async fn rfc6749_4_1_2_code_and_exact_state_returned_after_login_and_consent() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let browser = t.browser();
    let query = authorize_query(&client, &[("scope", "profile notes:read")]);

    let res = browser.get(&format!("/authorize?{query}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("name=\"username\"")
            && page.contains("name=\"password\"")
            && page.contains("<button type=\"submit\"")
    );
    // The client name is escaped by the template engine.
    assert!(page.contains("Test &lt;App&gt;"), "{page}");

    let res = browser.login(&page, "alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    let res = browser.get(&location(&res)).await;
    let page = res.text().await.unwrap();
    assert!(page.contains("Allow") && page.contains("Deny"), "{page}");
    assert!(page.contains("See your username and profile") && page.contains("Read your notes"));

    let res = browser.decide(&page, "allow").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "303 after a POST, never 307 (RFC 9700 §4.12)");
    let loc = location(&res);
    assert!(loc.starts_with("https://app.example/cb?"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st@te/1 2"));
    assert!(param(&loc, "code").unwrap().starts_with("lkc_"));
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
}

#[tokio::test]
async fn rfc6749_4_1_2_remembered_consent_goes_straight_back() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let browser = t.browser();
    browser.authorize(&authorize_query(&client, &[("scope", "profile")]), "alice").await;
    let res = browser.get(&format!("/authorize?{}", authorize_query(&client, &[("scope", "profile")]))).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(param(&location(&res), "code").is_some());
    // A wider scope asks again.
    let res =
        browser.get(&format!("/authorize?{}", authorize_query(&client, &[("scope", "profile notes:read")]))).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("Read your notes"));
}

#[tokio::test]
async fn rfc6749_4_1_2_1_access_denied_redirected_with_state() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let browser = t.browser();
    let res = browser.get(&format!("/authorize?{}", authorize_query(&client, &[]))).await;
    let res = browser.login(&res.text().await.unwrap(), "alice", PASSWORD).await;
    let page = browser.get(&location(&res)).await.text().await.unwrap();
    let res = browser.decide(&page, "deny").await;
    let loc = location(&res);
    assert_eq!(param(&loc, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&loc, "state").as_deref(), Some("st@te/1 2"));
    assert!(param(&loc, "code").is_none());
}

async fn shown_not_redirected(t: &TestServer, query: &str) -> String {
    let res = t.browser().get(&format!("/authorize?{query}")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "shown to the user");
    assert!(res.headers().get("location").is_none(), "never redirected");
    res.text().await.unwrap()
}

#[tokio::test]
async fn rfc6749_4_1_2_1_unknown_client_id_is_shown_not_redirected() {
    let t = TestServer::start().await;
    let mut client = t.confidential_client().await;
    client.id = "no-such-client".into();
    let page = shown_not_redirected(&t, &authorize_query(&client, &[])).await;
    assert!(page.contains("unknown client_id"));
    shown_not_redirected(&t, &authorize_query(&client, &[("client_id", "")])).await;
}

#[tokio::test]
async fn rfc6749_4_1_2_1_unregistered_or_malformed_redirect_uri_is_shown_not_redirected() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    for bad in [
        "https://evil.example/cb",
        "https://app.example/cb/",
        "https://app.example/cb?x=1",
        "not a uri",
        "https://app.example/CB",
    ] {
        shown_not_redirected(&t, &authorize_query(&client, &[("redirect_uri", bad)])).await;
    }
}

#[tokio::test]
async fn rfc6749_3_1_2_3_redirect_uri_required_when_several_are_registered() {
    let t = TestServer::start().await;
    let client = t
        .client_with(NewClient {
            name: "Two".into(),
            redirect_uris: vec!["https://a.example/cb".into(), "https://b.example/cb".into()],
            ..NewClient::default()
        })
        .await;
    shown_not_redirected(&t, &authorize_query(&client, &[("redirect_uri", "")])).await;
}

#[tokio::test]
async fn rfc6749_3_1_repeated_parameter_is_an_error_not_a_choice() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let query = format!("{}&scope=profile&scope=notes:read", authorize_query(&client, &[]));
    let page = shown_not_redirected(&t, &query).await;
    assert!(page.contains("repeated"));
}

async fn redirected_error(t: &TestServer, query: &str) -> (String, String) {
    let res = t.browser().get(&format!("/authorize?{query}")).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let loc = location(&res);
    (param(&loc, "error").unwrap_or_default(), param(&loc, "state").unwrap_or_default())
}

#[tokio::test]
async fn rfc6749_4_1_2_1_errors_are_redirected_with_state() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let cases = [
        (vec![("response_type", "token")], "unsupported_response_type"),
        (vec![("response_type", "")], "invalid_request"),
        (vec![("scope", "admin")], "invalid_scope"),
        (vec![("scope", "profile \"x")], "invalid_scope"),
        (vec![("code_challenge", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge", "short")], "invalid_request"),
    ];
    for (overrides, expected) in cases {
        let (error, state) = redirected_error(&t, &authorize_query(&client, &overrides)).await;
        assert_eq!(error, expected, "{overrides:?}");
        assert_eq!(state, "st@te/1 2");
    }
}

#[tokio::test]
async fn rfc6749_4_1_2_1_unauthorized_client_without_the_code_grant() {
    let t = TestServer::start().await;
    let client = t
        .client_with(NewClient {
            name: "M2M".into(),
            redirect_uris: vec!["https://m2m.example/cb".into()],
            grant_types: vec![latchkey_protocol::client::GrantType::ClientCredentials],
            ..NewClient::default()
        })
        .await;
    let (error, _) = redirected_error(&t, &authorize_query(&client, &[])).await;
    assert_eq!(error, "unauthorized_client");
}

#[tokio::test]
async fn rfc7636_4_4_1_public_client_without_pkce_is_refused() {
    let t = TestServer::start().await;
    let client = t.public_client().await;
    let (error, _) =
        redirected_error(&t, &authorize_query(&client, &[("code_challenge", ""), ("code_challenge_method", "")])).await;
    assert_eq!(error, "invalid_request");
}

#[tokio::test]
async fn rfc6749_3_3_client_limited_to_a_subset_of_scopes_and_default_scope() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let client = t
        .client_with(NewClient {
            name: "Limited".into(),
            redirect_uris: vec!["https://l.example/cb".into()],
            scopes: vec!["profile".into()],
            ..NewClient::default()
        })
        .await;
    let (error, _) = redirected_error(&t, &authorize_query(&client, &[("scope", "notes:read")])).await;
    assert_eq!(error, "invalid_scope");
    // No scope requested: the client's default (its allowed scopes).
    let tokens = t.tokens_for(&client, "alice").await;
    assert_eq!(tokens["scope"], "profile");
}

#[tokio::test]
async fn rfc8252_7_3_loopback_redirect_may_use_any_port() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let mut client = t.public_client().await;
    client.redirect_uri = "http://127.0.0.1:53682/callback".into();
    let loc = t.browser().authorize(&authorize_query(&client, &[]), "alice").await;
    assert!(loc.starts_with("http://127.0.0.1:53682/callback?code="), "{loc}");
    // Only the port may vary.
    client.redirect_uri = "http://127.0.0.1:53682/other".into();
    shown_not_redirected(&t, &authorize_query(&client, &[])).await;
}

#[tokio::test]
async fn login_with_a_wrong_password_shows_the_form_again() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let browser = t.browser();
    let page = browser.get(&format!("/authorize?{}", authorize_query(&client, &[]))).await.text().await.unwrap();
    for (user, password) in [("alice", "wrong password"), ("nobody", PASSWORD)] {
        let res = browser.login(&page, user, password).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let again = res.text().await.unwrap();
        assert!(again.contains("Wrong username or password") && again.contains("name=\"password\""));
        assert!(again.contains("Test &lt;App&gt;"), "the page still names the client");
    }
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let browser = t.browser();
    let page = browser.get(&format!("/authorize?{}", authorize_query(&client, &[]))).await.text().await.unwrap();
    let request = field(&page, "return_to").unwrap();
    let res = browser
        .post(
            "/login",
            &[
                ("csrf", "forged-forged-forged-forged-forged-forged"),
                ("return_to", &request),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(res.headers().get("set-cookie").is_none(), "no session started");
    // A fresh browser (no CSRF cookie) cannot post the consent form either.
    let res = t.browser().post("/consent", &[("csrf", "x"), ("request", &request), ("decision", "allow")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rfc9700_4_16_pages_refuse_framing_and_leak_no_referrer() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let res = t.browser().get(&format!("/authorize?{}", authorize_query(&client, &[]))).await;
    let h = res.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["cache-control"], "no-store");
}

#[tokio::test]
async fn rfc9207_2_iss_in_success_and_error_responses() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let loc = t.browser().authorize(&authorize_query(&client, &[]), "alice").await;
    assert_eq!(param(&loc, "iss").as_deref(), Some(t.url.as_str()));
    let res = t.browser().get(&format!("/authorize?{}", authorize_query(&client, &[("scope", "admin")]))).await;
    assert_eq!(param(&location(&res), "iss").as_deref(), Some(t.url.as_str()));
}

#[tokio::test]
async fn rfc9207_2_4_client_refuses_a_response_from_another_issuer() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let oauth = latchkey_client::OAuthClient::discover(&t.url, &client.id, client.secret.as_deref()).await.unwrap();
    assert!(oauth.metadata().authorization_response_iss_parameter_supported);
    let pending = oauth.authorization_request(&client.redirect_uri, None).unwrap();
    let state = &pending.state;
    for query in
        [format!("code=lkc_x&state={state}&iss=https%3A%2F%2Fevil.example"), format!("code=lkc_x&state={state}")]
    {
        let err = oauth.finish_authorization(&pending, &query).await.unwrap_err();
        assert!(matches!(err, latchkey_client::ClientError::IssuerMismatch), "{err}");
    }
    let err = oauth.finish_authorization(&pending, "code=lkc_x&state=other").await.unwrap_err();
    assert!(matches!(err, latchkey_client::ClientError::StateMismatch), "rfc6749_10_12: {err}");
}

#[tokio::test]
async fn failed_logins_are_limited_per_account_and_the_lockout_ends() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let browser = t.browser();
    let page = browser.get("/login").await.text().await.unwrap();
    for _ in 0..5 {
        assert_eq!(browser.login(&page, "Alice", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    }
    // Even the right password waits now; the page says how long.
    let res = browser.login(&page, "alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "900");
    assert!(res.text().await.unwrap().contains("Try again in 15 minutes"));
    // Another account is not affected.
    t.user("bob").await;
    let other = t.browser();
    let bob_page = other.get("/login").await.text().await.unwrap();
    assert_eq!(other.login(&bob_page, "bob", PASSWORD).await.status(), StatusCode::SEE_OTHER);
    t.clock.advance(900);
    assert_eq!(browser.login(&page, "alice", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn over_https_cookies_are_secure_with_the_host_prefix() {
    let t = TestServer::start_with(|s| s.issuer = "https://auth.example".into()).await;
    let client = t.confidential_client().await;
    let res = t.browser().get(&format!("/authorize?{}", authorize_query(&client, &[]))).await;
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("__Host-latchkey_csrf="), "{cookie}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    assert!(!cookie.contains("Domain="), "__Host- cookies have no Domain");
}

#[tokio::test]
async fn a_client_cannot_inject_html_through_its_registered_metadata() {
    let t = TestServer::start_with(|s| s.registration = latchkey_flows::RegistrationPolicy::Open).await;
    t.user("alice").await;
    let body = serde_json::json!({"client_name": "<img src=x onerror=alert(1)><script>alert(2)</script>", "redirect_uris": ["https://evil.example/cb"]});
    let r: serde_json::Value =
        t.http().post(format!("{}/register", t.url)).json(&body).send().await.unwrap().json().await.unwrap();
    let client = TestClient {
        id: r["client_id"].as_str().unwrap().into(),
        secret: r["client_secret"].as_str().map(Into::into),
        redirect_uri: "https://evil.example/cb".into(),
    };
    let browser = t.browser();
    let page = browser.get(&format!("/authorize?{}", authorize_query(&client, &[]))).await.text().await.unwrap();
    let res = browser.login(&page, "alice", PASSWORD).await;
    let consent = browser.get(&location(&res)).await.text().await.unwrap();
    for page in [&page, &consent] {
        assert!(!page.contains("<script>alert") && !page.contains("<img src=x"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(2)&lt;"), "shown as text");
    }
}

#[tokio::test]
async fn csrf_tokens_are_bound_to_the_login_session() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    t.user("bob").await;
    // Alice reaches the consent page; her form's token is tied to her session.
    let alice = t.browser();
    let page = alice.get(&format!("/authorize?{}", authorize_query(&client, &[]))).await.text().await.unwrap();
    let res = alice.login(&page, "alice", PASSWORD).await;
    let consent = alice.get(&location(&res)).await.text().await.unwrap();
    // Bob, logged in elsewhere, cannot use Alice's token, nor his own pre-login one.
    let bob = t.browser();
    let page = bob.get("/login").await.text().await.unwrap();
    let pre_login = field(&page, "csrf").unwrap();
    bob.login(&page, "bob", PASSWORD).await;
    let request = field(&consent, "request").unwrap();
    for token in [field(&consent, "csrf").unwrap(), pre_login] {
        let res = bob.post("/consent", &[("csrf", &token), ("request", &request), ("decision", "allow")]).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    // Alice's own form works.
    assert_eq!(alice.decide(&consent, "allow").await.status(), StatusCode::SEE_OTHER);
}
