//! The findings of the outside security review (issue 13), each over HTTP: consent, public
//! clients, self-registered clients, introspection, scopes of dynamic clients and the
//! revocation gaps.

use latchkey_flows::{NewClient, RegistrationPolicy};
use latchkey_protocol::client::GrantType;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

async fn introspect(t: &TestServer, caller: &TestClient, token: &str) -> Value {
    let res = t
        .http()
        .post(format!("{}/introspect", t.url))
        .basic_auth(&caller.id, caller.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

async fn register(t: &TestServer, body: Value) -> reqwest::Response {
    t.http().post(format!("{}/register", t.url)).json(&body).send().await.unwrap()
}

/// Logs `browser` in as `user` through the login page.
async fn log_in(browser: &Browser, user: &str) {
    let page = browser.get("/login").await.text().await.unwrap();
    assert_eq!(browser.login(&page, user, PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn rfc6749_3_3_an_empty_scope_is_invalid_scope_and_never_skips_consent() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let browser = t.browser();
    log_in(&browser, "alice").await;
    // alice never saw this client: a request whose scope is empty gets no code.
    for scope in ["%20", "%20%20"] {
        let query = format!("{}&scope={scope}", authorize_query(&client, &[]));
        let res = browser.get(&format!("/authorize?{query}")).await;
        assert_eq!(res.status(), StatusCode::FOUND, "{scope}");
        let loc = location(&res);
        assert!(loc.starts_with(WEB_REDIRECT), "{loc}");
        assert_eq!(param(&loc, "error").as_deref(), Some("invalid_scope"), "{loc}");
        assert_eq!(param(&loc, "state").as_deref(), Some("st@te/1 2"));
        assert!(param(&loc, "code").is_none());
    }
    // Nor can a client be registered with no scope at all, by the operator or by itself.
    let empty = NewClient {
        name: "No scope".into(),
        redirect_uris: vec!["https://none.example/cb".into()],
        scopes: vec![String::new()],
        ..NewClient::default()
    };
    assert!(t.auth.add_client(empty).await.is_err());
    let t = TestServer::start_with(|s| s.registration = RegistrationPolicy::Open).await;
    let res = register(&t, json!({"redirect_uris": ["https://dyn.example/cb"], "scope": ""})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client_metadata");
}

#[tokio::test]
async fn rfc8252_8_6_a_public_client_never_gets_a_code_without_the_page() {
    let t = TestServer::start().await;
    let native = t.public_client().await;
    t.user("alice").await;
    let browser = t.browser();
    let query = authorize_query(&native, &[("scope", "profile")]);
    let first = browser.authorize(&query, "alice").await;
    assert!(param(&first, "code").is_some());
    // Consent is remembered, yet any local process could be listening on the loopback
    // port: the user sees a one-click page every time.
    let res = browser.get(&format!("/authorize?{query}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("Continue as <strong>alice</strong> to <strong>Native App</strong>"), "{page}");
    let res = browser.decide(&page, "allow").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(param(&location(&res), "code").is_some());
    // A confidential client's remembered consent still goes straight back.
    let web = t.confidential_client().await;
    let query = authorize_query(&web, &[("scope", "profile")]);
    browser.authorize(&query, "alice").await;
    assert_eq!(browser.get(&format!("/authorize?{query}")).await.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn rfc9700_4_11_2_errors_for_self_registered_clients_follow_the_login() {
    let t = TestServer::start_with(|s| s.registration = RegistrationPolicy::Open).await;
    t.user("alice").await;
    let res = register(&t, json!({"redirect_uris": ["https://phish.example/landing"]})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let id = res.json::<Value>().await.unwrap()["client_id"].as_str().unwrap().to_owned();
    let browser = t.browser();
    let query = format!("client_id={id}&response_type=x&state=s1");
    // Not an immediate redirect from the server's origin to wherever the client chose.
    let res = browser.get(&format!("/authorize?{query}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("name=\"password\""), "the login page: {page}");
    // After the login, the standard error response, with state.
    let res = browser.login(&page, "alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = browser.get(&location(&res)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let loc = location(&res);
    assert!(loc.starts_with("https://phish.example/landing?"), "{loc}");
    assert_eq!(param(&loc, "error").as_deref(), Some("unsupported_response_type"));
    assert_eq!(param(&loc, "state").as_deref(), Some("s1"));
    // A logged-in user is redirected at once; so is everyone for an operator's client.
    assert_eq!(browser.get(&format!("/authorize?{query}")).await.status(), StatusCode::FOUND);
    let operators = t.confidential_client().await;
    let res = t.browser().get(&format!("/authorize?{}", authorize_query(&operators, &[("response_type", "x")]))).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(param(&location(&res), "error").as_deref(), Some("unsupported_response_type"));
}

#[tokio::test]
async fn rfc7662_4_a_client_introspects_only_its_own_tokens_unless_it_is_a_resource_server() {
    let t = TestServer::start().await;
    let owner = t.confidential_client().await;
    let stranger = t.confidential_client().await;
    let rs = t.resource_server().await;
    t.user("alice").await;
    let tokens = t.tokens_for(&owner, "alice").await;
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&t, &stranger, at).await, json!({"active": false}));
    assert_eq!(introspect(&t, &owner, at).await["active"], true);
    let seen = introspect(&t, &rs, at).await;
    assert_eq!((seen["active"].clone(), seen["username"].clone()), (json!(true), json!("alice")));
    // Refresh tokens stay visible only to their own client, resource servers included.
    let rt = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(introspect(&t, &rs, rt).await, json!({"active": false}));
    // Only the operator marks a resource server; a self-registered client never is one.
    t.auth.set_client_introspection(&stranger.id, true).await.unwrap();
    assert_eq!(introspect(&t, &stranger, at).await["active"], true);
}

#[tokio::test]
async fn rfc6749_4_1_2_a_replayed_code_revokes_its_access_tokens_without_a_refresh_grant() {
    let t = TestServer::start().await;
    let client = t
        .client_with(NewClient {
            name: "Code only".into(),
            redirect_uris: vec![WEB_REDIRECT.into()],
            grant_types: vec![GrantType::AuthorizationCode],
            ..NewClient::default()
        })
        .await;
    let rs = t.resource_server().await;
    t.user("alice").await;
    let code = t.code_for(&client, "alice").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", WEB_REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let tokens: Value = t.token(&client, &form).await.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none());
    let at = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&t, &rs, at).await["active"], true);
    assert_eq!(error_code(t.token(&client, &form).await).await, "invalid_grant");
    assert_eq!(introspect(&t, &rs, at).await, json!({"active": false}), "revoked by the replay");
}

#[tokio::test]
async fn removing_a_user_makes_every_token_of_theirs_inactive() {
    let t = TestServer::start().await;
    let rs = t.resource_server().await;
    let jwt = t.confidential_client().await;
    let opaque = t
        .client_with(NewClient {
            name: "Opaque".into(),
            redirect_uris: vec![WEB_REDIRECT.into()],
            token_format: latchkey_protocol::client::TokenFormat::Opaque,
            ..NewClient::default()
        })
        .await;
    t.user("alice").await;
    let mut tokens = Vec::new();
    for c in [&jwt, &opaque] {
        tokens.push(t.tokens_for(c, "alice").await["access_token"].as_str().unwrap().to_owned());
    }
    // A client's own token (sub = client id) is not a user's.
    let own: Value = t.token(&jwt, &[("grant_type", "client_credentials")]).await.json().await.unwrap();
    assert!(t.store.delete_user("alice").await.unwrap());
    for at in &tokens {
        assert_eq!(introspect(&t, &rs, at).await, json!({"active": false}), "{at}");
    }
    assert_eq!(introspect(&t, &rs, own["access_token"].as_str().unwrap()).await["active"], true);
}

#[tokio::test]
async fn a_new_password_or_a_withdrawn_consent_ends_the_grants_made_before() {
    let t = TestServer::start().await;
    let rs = t.resource_server().await;
    let first = t.confidential_client().await;
    let second = t.confidential_client().await;
    t.user("alice").await;
    let refresh = |c: &TestClient, rt: &str| {
        let (c, rt) = (c.clone(), rt.to_owned());
        let t = &t;
        async move { t.token(&c, &[("grant_type", "refresh_token"), ("refresh_token", &rt)]).await }
    };
    // Withdrawing the consent for one client ends that client's grants only.
    let a = t.tokens_for(&first, "alice").await;
    let b = t.tokens_for(&second, "alice").await;
    t.auth.revoke_consent("alice", &first.id).await.unwrap();
    assert_eq!(error_code(refresh(&first, a["refresh_token"].as_str().unwrap()).await).await, "invalid_grant");
    assert_eq!(introspect(&t, &rs, a["access_token"].as_str().unwrap()).await["active"], false);
    assert_eq!(introspect(&t, &rs, b["access_token"].as_str().unwrap()).await["active"], true);
    // A new password ends every grant made with the old one.
    t.auth.set_password("alice", &latchkey_protocol::secret::Password::new("another long password")).await.unwrap();
    assert_eq!(error_code(refresh(&second, b["refresh_token"].as_str().unwrap()).await).await, "invalid_grant");
    assert_eq!(introspect(&t, &rs, b["access_token"].as_str().unwrap()).await["active"], false);
}

#[tokio::test]
async fn rfc7591_5_self_registered_clients_get_only_the_scopes_the_operator_lists() {
    // By default a self-registered client gets no scope for client_credentials at all.
    let t = TestServer::start_with(|s| s.registration = RegistrationPolicy::Open).await;
    let res = register(&t, json!({"grant_types": ["client_credentials"]})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client_metadata");

    let t = TestServer::start_with(|s| {
        s.registration = RegistrationPolicy::Open;
        s.registration_client_credentials_scopes = vec!["notes:read".into()];
    })
    .await;
    // A wider request is narrowed, and the response says what was granted.
    let res = register(&t, json!({"grant_types": ["client_credentials"], "scope": "profile notes:read"})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["scope"], "notes:read");
    let client = TestClient {
        id: r["client_id"].as_str().unwrap().into(),
        secret: r["client_secret"].as_str().map(Into::into),
        redirect_uri: String::new(),
    };
    let res = t.token(&client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.json::<Value>().await.unwrap()["scope"], "notes:read");
    let res = t.token(&client, &[("grant_type", "client_credentials"), ("scope", "profile")]).await;
    assert_eq!(error_code(res).await, "invalid_scope");
    // A client registered for users and for itself gets client_credentials tokens only
    // within the operator's list, whatever else users may grant it.
    let res = register(
        &t,
        json!({"redirect_uris": ["https://both.example/cb"], "grant_types": ["authorization_code", "client_credentials"]}),
    )
    .await;
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["scope"], "notes:read notes:write profile");
    let client = TestClient {
        id: r["client_id"].as_str().unwrap().into(),
        secret: r["client_secret"].as_str().map(Into::into),
        redirect_uri: String::new(),
    };
    let res = t.token(&client, &[("grant_type", "client_credentials"), ("scope", "notes:write")]).await;
    assert_eq!(error_code(res).await, "invalid_scope");
}
