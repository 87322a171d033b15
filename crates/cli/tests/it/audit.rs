//! The audit trail records security events, readable through `latchkey audit`.

use latchkey_flows::KeyAlg;
use serde_json::Value;

use crate::harness::*;

#[tokio::test]
async fn security_events_are_recorded_and_carry_no_secret() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let browser = t.browser();
    let page = browser.get("/login").await.text().await.unwrap();
    browser.login(&page, "alice", "wrong password").await;
    let first = t.tokens_for(&client, "alice").await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let _second: Value =
        t.token(&client, &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await.json().await.unwrap();
    t.clock.advance(11);
    t.token(&client, &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await;
    let code = t.code_for(&client, "alice").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "https://app.example/cb"),
        ("code_verifier", VERIFIER),
    ];
    t.token(&client, &form).await;
    t.token(&client, &form).await;
    let secret = t.auth.rotate_client_secret(&client.id).await.unwrap();
    t.auth.rotate_key(KeyAlg::Es256).await.unwrap();
    let user = t.store.user_by_name("alice").await.unwrap().unwrap();
    t.auth.revoke_consent("alice", &client.id).await.unwrap();

    let events = t.auth.audit_trail(None, 100).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for k in [
        "login_failed",
        "login_succeeded",
        "consent_granted",
        "refresh_reuse_detected",
        "code_replay_detected",
        "client_secret_rotated",
        "key_rotated",
        "consent_revoked",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let failed = t.auth.audit_trail(Some("login_failed"), 10).await.unwrap();
    assert_eq!(failed[0].actor.as_deref(), Some("alice"));
    assert_eq!(failed[0].address.as_deref(), Some("127.0.0.1"));
    let all = serde_json::to_string(&events).unwrap();
    for s in [
        rt1,
        first["access_token"].as_str().unwrap(),
        code.as_str(),
        secret.expose(),
        PASSWORD,
        user.password_hash.as_str(),
    ] {
        assert!(!all.contains(s), "a secret in the audit trail");
    }
}
