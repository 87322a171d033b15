//! Dynamic client registration (RFC 7591) and management (RFC 7592), over HTTP.

use latchkey_flows::RegistrationPolicy;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::*;

async fn server(policy: RegistrationPolicy) -> TestServer {
    TestServer::start_with(|s| s.registration = policy).await
}

/// A server whose operator lets self-registered clients obtain `scopes` through
/// client_credentials.
async fn server_granting(policy: RegistrationPolicy, scopes: &[&str]) -> TestServer {
    let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
    TestServer::start_with(move |s| {
        s.registration = policy;
        s.registration_client_credentials_scopes = scopes;
    })
    .await
}

async fn register(t: &TestServer, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = t.http().post(format!("{}/register", t.url)).json(&body);
    if let Some(tok) = token {
        req = req.bearer_auth(tok);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn rfc7591_3_1_open_registration_issues_working_credentials() {
    let t = server_granting(RegistrationPolicy::Open, &["notes:read"]).await;
    let res = register(&t, None, json!({"client_name": "Dyn <App>", "redirect_uris": ["https://dyn.example/cb"], "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "client_uri": "https://dyn.example", "contacts": ["ops@dyn.example"]})).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let r: Value = res.json().await.unwrap();
    for f in
        ["client_id", "client_secret", "client_id_issued_at", "registration_access_token", "registration_client_uri"]
    {
        assert!(!r[f].is_null(), "{f}: {r}");
    }
    assert_eq!(r["client_secret_expires_at"], 0);
    assert_eq!(r["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(r["response_types"], json!(["code"]));
    assert_eq!(r["client_uri"], "https://dyn.example");
    assert_eq!(r["contacts"], json!(["ops@dyn.example"]));
    assert_eq!(r["registration_client_uri"], format!("{}/register/{}", t.url, r["client_id"].as_str().unwrap()));
    // §3.2.1 default scope: every scope the server offers.
    assert_eq!(r["scope"], "notes:read notes:write profile");
    let client = TestClient {
        id: r["client_id"].as_str().unwrap().into(),
        secret: r["client_secret"].as_str().map(Into::into),
        redirect_uri: "https://dyn.example/cb".into(),
    };
    let res = t.token(&client, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["scope"], "notes:read", "only what the operator lists");
    t.user("alice").await;
    assert!(t.tokens_for(&client, "alice").await["refresh_token"].is_string());
    // A public client gets no secret.
    let r: Value =
        register(&t, None, json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}))
            .await
            .json()
            .await
            .unwrap();
    assert!(r.get("client_secret").is_none());
}

#[tokio::test]
async fn rfc7591_3_2_2_bad_metadata_gets_the_rfc_error_and_registers_nothing() {
    let t = server(RegistrationPolicy::Open).await;
    let cases = [
        (json!({"redirect_uris": ["http://evil.example/cb"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://a.example/cb#frag"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["/relative"]}), "invalid_redirect_uri"),
        (json!({"grant_types": ["authorization_code"]}), "invalid_redirect_uri"),
        (json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]}), "invalid_client_metadata"),
        (json!({"grant_types": ["client_credentials"], "response_types": ["code"]}), "invalid_client_metadata"),
        (json!({"grant_types": ["password"]}), "invalid_client_metadata"),
        (
            json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (json!({"grant_types": ["client_credentials"], "scope": "admin"}), "invalid_client_metadata"),
        (json!({"software_statement": "eyJhbGciOiJub25lIn0.e30."}), "invalid_software_statement"),
        (json!("not an object"), "invalid_client_metadata"),
    ];
    for (body, expected) in cases {
        let res = register(&t, None, body.clone()).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_code(res).await, expected, "{body}");
    }
    let res = t
        .http()
        .post(format!("{}/register", t.url))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "invalid_client_metadata");
    assert!(t.store.clients().await.unwrap().is_empty(), "nothing registered");
}

#[tokio::test]
async fn rfc7591_3_initial_access_token_policy() {
    let t = server_granting(RegistrationPolicy::Token, &["profile"]).await;
    let body = json!({"grant_types": ["client_credentials"], "scope": "profile"});
    let res = register(&t, None, body.clone()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().contains("invalid_token"));
    assert_eq!(register(&t, Some("lkreg_forged"), body.clone()).await.status(), StatusCode::UNAUTHORIZED);
    let token = t.auth.create_registration_token(Some(1), Some(3600)).await.unwrap();
    let res = register(&t, Some(token.expose()), body.clone()).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.json::<Value>().await.unwrap()["scope"], "profile");
    assert_eq!(register(&t, Some(token.expose()), body.clone()).await.status(), StatusCode::UNAUTHORIZED, "used up");
    let expiring = t.auth.create_registration_token(None, Some(60)).await.unwrap();
    t.clock.advance(61);
    assert_eq!(register(&t, Some(expiring.expose()), body).await.status(), StatusCode::UNAUTHORIZED, "expired");
}

#[tokio::test]
async fn rfc8414_registration_off_means_no_endpoint() {
    let t = server(RegistrationPolicy::Off).await;
    assert_eq!(
        register(&t, None, json!({"grant_types": ["client_credentials"]})).await.status(),
        StatusCode::NOT_FOUND
    );
    let m: Value = t
        .http()
        .get(format!("{}/.well-known/oauth-authorization-server", t.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(m.get("registration_endpoint").is_none());
    let t = server(RegistrationPolicy::Open).await;
    let m: Value = t
        .http()
        .get(format!("{}/.well-known/oauth-authorization-server", t.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(m["registration_endpoint"], format!("{}/register", t.url));
}

#[tokio::test]
async fn rfc7592_2_read_update_and_delete_with_the_registration_access_token() {
    let t = server(RegistrationPolicy::Open).await;
    let r: Value = register(&t, None, json!({"client_name": "Dyn", "redirect_uris": ["https://dyn.example/cb"]}))
        .await
        .json()
        .await
        .unwrap();
    let uri = r["registration_client_uri"].as_str().unwrap();
    let rat = r["registration_access_token"].as_str().unwrap();
    let id = r["client_id"].as_str().unwrap();
    let secret = r["client_secret"].as_str().unwrap();

    let res = t.http().get(uri).bearer_auth(rat).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let read: Value = res.json().await.unwrap();
    assert_eq!(read["client_name"], "Dyn");
    assert!(read.get("registration_access_token").is_none() && read.get("client_secret").is_none());
    for bad in [None, Some("wrong")] {
        let mut req = t.http().get(uri);
        if let Some(b) = bad {
            req = req.bearer_auth(b);
        }
        assert_eq!(req.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    }

    let update = json!({"client_id": id, "client_secret": secret, "client_name": "Renamed", "redirect_uris": ["https://dyn.example/new"]});
    let res = t.http().put(uri).bearer_auth(rat).json(&update).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["redirect_uris"], json!(["https://dyn.example/new"]));
    assert_eq!(t.store.client(id).await.unwrap().unwrap().name, "Renamed");
    let wrong_id = json!({"client_id": "other", "redirect_uris": ["https://dyn.example/new"]});
    assert_eq!(
        error_code(t.http().put(uri).bearer_auth(rat).json(&wrong_id).send().await.unwrap()).await,
        "invalid_client_metadata"
    );
    let to_public =
        json!({"client_id": id, "redirect_uris": ["https://dyn.example/new"], "token_endpoint_auth_method": "none"});
    assert_eq!(
        error_code(t.http().put(uri).bearer_auth(rat).json(&to_public).send().await.unwrap()).await,
        "invalid_client_metadata"
    );

    assert_eq!(t.http().delete(uri).bearer_auth(rat).send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(t.http().get(uri).bearer_auth(rat).send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let gone = TestClient { id: id.into(), secret: Some(secret.into()), redirect_uri: String::new() };
    assert_eq!(t.token(&gone, &[("grant_type", "client_credentials")]).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rfc7591_3_2_2_bad_metadata_does_not_spend_the_initial_access_token() {
    let t = server_granting(RegistrationPolicy::Token, &["profile"]).await;
    let token = t.auth.create_registration_token(Some(1), None).await.unwrap();
    for bad in [
        json!({"grant_types": ["client_credentials"], "logo_uri": "javascript:alert(1)"}),
        json!({"grant_types": ["client_credentials"], "client_uri": "http://evil.example/"}),
        json!({"redirect_uris": ["http://evil.example/cb"]}),
    ] {
        let res = register(&t, Some(token.expose()), bad).await;
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert!(res.json::<Value>().await.unwrap()["error"].as_str().unwrap().starts_with("invalid_"));
    }
    let good =
        json!({"grant_types": ["client_credentials"], "scope": "profile", "logo_uri": "https://app.example/l.png"});
    assert_eq!(register(&t, Some(token.expose()), good.clone()).await.status(), StatusCode::CREATED, "still one use");
    assert_eq!(register(&t, Some(token.expose()), good).await.status(), StatusCode::UNAUTHORIZED, "used up");
}
