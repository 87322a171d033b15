//! The token endpoint, RFC 6749 §3.2, §4.1.3, §4.4, §5, §6 and RFC 9700 §4.14.

use latchkey_flows::NewClient;
use latchkey_protocol::client::GrantType;
use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::*;

fn code_form<'a>(code: &'a str, client: &'a TestClient) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &client.redirect_uri),
        ("code_verifier", VERIFIER),
    ]
}

#[tokio::test]
async fn rfc6749_4_1_3_code_exchange_gives_rfc9068_tokens_with_no_store() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let code = t.code_for(&client, "alice").await;
    let res = t.token(&client, &code_form(&code, &client)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.headers()["pragma"], "no-cache");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 600);
    assert!(body["refresh_token"].as_str().unwrap().starts_with("lkr_"));
    let (header, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "ES256");
    assert!(header["kid"].is_string());
    let user = t.store.user_by_name("alice").await.unwrap().unwrap();
    assert_eq!(claims["sub"], user.id.as_str());
    assert_eq!(claims["iss"], t.url.as_str());
    assert_eq!(claims["aud"], t.url.as_str());
    assert_eq!(claims["client_id"], client.id.as_str());
    assert_eq!(claims["scope"], "notes:read notes:write profile");
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);
    assert!(claims["jti"].is_string());
}

#[tokio::test]
async fn rfc6749_4_1_2_code_reuse_fails_and_revokes_tokens_issued_from_it() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let code = t.code_for(&client, "alice").await;
    let first: Value = t.token(&client, &code_form(&code, &client)).await.json().await.unwrap();
    let second = t.token(&client, &code_form(&code, &client)).await;
    assert_eq!(second.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(second).await, "invalid_grant");
    // The refresh token issued from the code is revoked.
    let res = t
        .token(&client, &[("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())])
        .await;
    assert_eq!(error_code(res).await, "invalid_grant");
}

/// A replay after the code expired is still a replay: the redemption is remembered past
/// the code's lifetime.
#[tokio::test]
async fn rfc6749_4_1_2_code_replayed_after_expiry_still_revokes() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let code = t.code_for(&client, "alice").await;
    let first: Value = t.token(&client, &code_form(&code, &client)).await.json().await.unwrap();
    t.clock.advance(120);
    let replay: Value = t.token(&client, &code_form(&code, &client)).await.json().await.unwrap();
    assert_eq!(replay["error_description"], "the authorization code was already used");
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", first["refresh_token"].as_str().unwrap())];
    assert_eq!(error_code(t.token(&client, &refresh).await).await, "invalid_grant");
}

/// Codes are sealed: one altered anywhere, or sealed by another installation, is unknown,
/// and trying it spends nothing.
#[tokio::test]
async fn rfc6749_10_10_an_altered_or_foreign_code_is_unknown() {
    let t = TestServer::start().await;
    let other = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let code = t.code_for(&client, "alice").await;
    let foreign_client = other.confidential_client().await;
    other.user("alice").await;
    let foreign = other.code_for(&foreign_client, "alice").await;
    let mut altered = code.clone().into_bytes();
    let mid = altered.len() / 2;
    altered[mid] = if altered[mid] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for bad in [altered.as_str(), foreign.as_str(), &code[..code.len() - 2]] {
        let res: Value = t.token(&client, &code_form(bad, &client)).await.json().await.unwrap();
        assert_eq!(
            (res["error"].as_str(), res["error_description"].as_str()),
            (Some("invalid_grant"), Some("unknown authorization code"))
        );
    }
    assert_eq!(t.token(&client, &code_form(&code, &client)).await.status(), StatusCode::OK);
}

/// An account removed between the approval and the redemption gets no tokens.
#[tokio::test]
async fn rfc6749_4_1_2_a_removed_accounts_code_redeems_nothing() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let code = t.code_for(&client, "alice").await;
    assert!(t.store.delete_user("alice").await.unwrap());
    let res = t.token(&client, &code_form(&code, &client)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "the resource owner's account no longer exists");
}

#[tokio::test]
async fn rfc6749_4_1_2_racing_redemptions_never_both_succeed() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    for _ in 0..5 {
        let code = t.code_for(&client, "alice").await;
        let form = code_form(&code, &client);
        let attempts = (0..6).map(|_| t.token(&client, &form)).collect();
        let results: Vec<StatusCode> = join_all(attempts).await.iter().map(|r| r.status()).collect();
        let ok = results.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(ok, 1, "{results:?}");
    }
}

/// Polls all futures concurrently on this task.
async fn join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    use std::pin::Pin;
    use std::task::{Context, Poll};
    let mut futs: Vec<Pin<Box<F>>> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(move |cx: &mut Context<'_>| {
        let mut pending = false;
        for (i, f) in futs.iter_mut().enumerate() {
            if out[i].is_none() {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => out[i] = Some(v),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(out.drain(..).map(|o| o.unwrap()).collect()) }
    })
    .await
}

#[tokio::test]
async fn rfc6749_4_1_2_code_expires_after_its_lifetime() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let code = t.code_for(&client, "alice").await;
    t.clock.advance(60);
    let res = t.token(&client, &code_form(&code, &client)).await;
    assert_eq!(error_code(res).await, "invalid_grant");
}

#[tokio::test]
async fn rfc6749_4_1_3_code_is_bound_to_client_redirect_uri_and_verifier() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let other = t.confidential_client().await;
    t.user("alice").await;
    let code = t.code_for(&client, "alice").await;
    // Another client: invalid_grant, and the code stays usable by its owner.
    assert_eq!(error_code(t.token(&other, &code_form(&code, &client)).await).await, "invalid_grant");
    let mut form = code_form(&code, &client);
    form[2] = ("redirect_uri", "https://app.example/other");
    assert_eq!(error_code(t.token(&client, &form).await).await, "invalid_grant");
    let mut form = code_form(&code, &client);
    form.remove(2);
    assert_eq!(
        error_code(t.token(&client, &form).await).await,
        "invalid_grant",
        "§4.1.3 redirect_uri required when it was sent"
    );
    let mut form = code_form(&code, &client);
    form[3] = ("code_verifier", "wrong-verifier-wrong-verifier-wrong-verifier-0");
    assert_eq!(error_code(t.token(&client, &form).await).await, "invalid_grant", "RFC 7636 §4.6");
    let mut form = code_form(&code, &client);
    form.remove(3);
    assert_eq!(error_code(t.token(&client, &form).await).await, "invalid_grant", "RFC 9700 §2.1.1: no PKCE downgrade");
    assert_eq!(t.token(&client, &code_form(&code, &client)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn rfc6749_4_1_3_public_client_redeems_with_its_client_id() {
    let t = TestServer::start().await;
    let client = t.public_client().await;
    t.user("alice").await;
    let tokens = t.tokens_for(&client, "alice").await;
    assert!(tokens["refresh_token"].is_string());
}

#[tokio::test]
async fn rfc6749_6_refresh_rotates_and_may_narrow_never_widen() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let first = t.tokens_for(&client, "alice").await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let res = t.token(&client, &[("grant_type", "refresh_token"), ("refresh_token", rt1), ("scope", "profile")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let second: Value = res.json().await.unwrap();
    assert_eq!(second["scope"], "profile");
    let rt2 = second["refresh_token"].as_str().unwrap();
    assert_ne!(rt1, rt2, "rotated");
    // The successor keeps the original grant: it may ask for all of it again.
    let res = t
        .token(&client, &[("grant_type", "refresh_token"), ("refresh_token", rt2), ("scope", "profile notes:read")])
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let third: Value = res.json().await.unwrap();
    let res = t
        .token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", third["refresh_token"].as_str().unwrap()),
                ("scope", "profile admin"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_scope");
}

#[tokio::test]
async fn rfc9700_4_14_2_reuse_of_a_rotated_refresh_token_revokes_the_family() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let first = t.tokens_for(&client, "alice").await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second: Value =
        t.token(&client, &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await.json().await.unwrap();
    let rt2 = second["refresh_token"].as_str().unwrap();
    // Past the grace period, a replay of rt1 (an attacker, or a very late retry) is
    // refused, and rt2 dies with it.
    t.clock.advance(11);
    assert_eq!(
        error_code(t.token(&client, &[("grant_type", "refresh_token"), ("refresh_token", rt1)]).await).await,
        "invalid_grant"
    );
    assert_eq!(
        error_code(t.token(&client, &[("grant_type", "refresh_token"), ("refresh_token", rt2)]).await).await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn rfc6749_6_refresh_token_is_bound_to_its_client() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let other = t.confidential_client().await;
    t.user("alice").await;
    let first = t.tokens_for(&client, "alice").await;
    let rt = first["refresh_token"].as_str().unwrap();
    assert_eq!(
        error_code(t.token(&other, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await).await,
        "invalid_grant"
    );
    assert_eq!(
        t.token(&client, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await.status(),
        StatusCode::OK,
        "unharmed"
    );
}

#[tokio::test]
async fn rfc6749_4_4_client_credentials_gives_no_refresh_token() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let res = t.token(&client, &[("grant_type", "client_credentials"), ("scope", "notes:read")]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "§4.4.3");
    assert_eq!(body["scope"], "notes:read");
    let (_, claims) = jwt_parts(body["access_token"].as_str().unwrap());
    assert_eq!(claims["sub"], client.id.as_str(), "RFC 9068 §2.2: sub is the client");
    let res = t.token(&client, &[("grant_type", "client_credentials"), ("scope", "admin")]).await;
    assert_eq!(error_code(res).await, "invalid_scope");
}

#[tokio::test]
async fn rfc6749_2_3_1_client_secret_post_and_form_encoded_basic() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let secret = client.secret.clone().unwrap();
    let res = t
        .http()
        .post(format!("{}/token", t.url))
        .form(&[("grant_type", "client_credentials"), ("client_id", &client.id), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let header = latchkey_protocol::client_auth::basic_header(&client.id, &secret);
    let res = t
        .http()
        .post(format!("{}/token", t.url))
        .header("authorization", header)
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Both methods at once: §2.3 "MUST NOT use more than one authentication method".
    let res = t
        .http()
        .post(format!("{}/token", t.url))
        .basic_auth(&client.id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(res).await, "invalid_request");
}

#[tokio::test]
async fn rfc6749_5_2_failed_client_authentication_is_401_with_www_authenticate() {
    let t = TestServer::start().await;
    let mut client = t.confidential_client().await;
    for secret in [Some("wrong".to_owned()), None] {
        client.secret = secret;
        let res = t.token(&client, &[("grant_type", "client_credentials")]).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        assert_eq!(res.headers()["cache-control"], "no-store");
        assert_eq!(error_code(res).await, "invalid_client");
    }
    let unknown = TestClient { id: "nobody".into(), secret: Some("x".into()), redirect_uri: String::new() };
    assert_eq!(t.token(&unknown, &[("grant_type", "client_credentials")]).await.status(), StatusCode::UNAUTHORIZED);
    let res = t
        .http()
        .post(format!("{}/token", t.url))
        .header("authorization", "Basic %%%")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn rfc6749_5_2_unsupported_grant_type_and_unauthorized_client() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    for g in ["password", "implicit", "urn:x"] {
        assert_eq!(error_code(t.token(&client, &[("grant_type", g)]).await).await, "unsupported_grant_type");
    }
    let public = t.public_client().await;
    let res = t.token(&public, &[("grant_type", "client_credentials")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "unauthorized_client");
    let code_only = t
        .client_with(NewClient {
            name: "No refresh".into(),
            redirect_uris: vec!["https://n.example/cb".into()],
            grant_types: vec![GrantType::AuthorizationCode],
            ..NewClient::default()
        })
        .await;
    let res = t.token(&code_only, &[("grant_type", "refresh_token"), ("refresh_token", "lkr_x")]).await;
    assert_eq!(error_code(res).await, "unauthorized_client");
}

#[tokio::test]
async fn rfc6749_3_2_only_post_with_a_form_body() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let res = t.http().get(format!("{}/token?grant_type=client_credentials", t.url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_code(res).await, "invalid_request");
    let res = t
        .http()
        .post(format!("{}/token", t.url))
        .basic_auth(&client.id, client.secret.as_ref())
        .header("content-type", "application/json")
        .body(r#"{"grant_type":"client_credentials"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_request");
    let res = t
        .http()
        .post(format!("{}/token", t.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("a".repeat(100_000))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn rfc6749_3_1_repeated_parameter_at_the_token_endpoint_is_invalid_request() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let res = t
        .http()
        .post(format!("{}/token", t.url))
        .basic_auth(&client.id, client.secret.as_ref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=profile&scope=notes%3Aread")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_code(res).await, "invalid_request");
}

#[tokio::test]
async fn rfc6749_5_2_missing_parameters_are_invalid_request() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    assert_eq!(error_code(t.token(&client, &[]).await).await, "invalid_request");
    assert_eq!(error_code(t.token(&client, &[("grant_type", "authorization_code")]).await).await, "invalid_request");
    assert_eq!(error_code(t.token(&client, &[("grant_type", "refresh_token")]).await).await, "invalid_request");
    assert_eq!(
        error_code(t.token(&client, &[("grant_type", "authorization_code"), ("code", "lkc_nope")]).await).await,
        "invalid_grant"
    );
}

async fn refresh(t: &TestServer, c: &TestClient, rt: &str) -> reqwest::Response {
    t.token(c, &[("grant_type", "refresh_token"), ("refresh_token", rt)]).await
}

#[tokio::test]
async fn refresh_retry_within_the_grace_period_gets_the_same_successor() {
    let t = TestServer::start_with(|s| s.refresh_grace_period = 10).await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    let first = t.tokens_for(&client, "alice").await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let a: Value = refresh(&t, &client, rt1).await.json().await.unwrap();
    // The response was lost; the client retries with rt1 a few seconds later.
    t.clock.advance(5);
    let res = refresh(&t, &client, rt1).await;
    assert_eq!(res.status(), StatusCode::OK);
    let b: Value = res.json().await.unwrap();
    assert_eq!(a["refresh_token"], b["refresh_token"], "the same successor");
    assert_ne!(a["access_token"], b["access_token"]);
    // The successor works once; after that, rt1 again is reuse and revokes the family.
    let rt2 = b["refresh_token"].as_str().unwrap();
    let c: Value = refresh(&t, &client, rt2).await.json().await.unwrap();
    assert_eq!(error_code(refresh(&t, &client, rt1).await).await, "invalid_grant");
    assert_eq!(error_code(refresh(&t, &client, c["refresh_token"].as_str().unwrap()).await).await, "invalid_grant");
}

#[tokio::test]
async fn two_concurrent_refreshes_both_get_the_same_successor() {
    let t = TestServer::start_with(|s| s.refresh_grace_period = 10).await;
    let client = t.confidential_client().await;
    t.user("alice").await;
    for _ in 0..5 {
        let first = t.tokens_for(&client, "alice").await;
        let rt = first["refresh_token"].as_str().unwrap();
        let results = join_all((0..4).map(|_| refresh(&t, &client, rt)).collect()).await;
        let mut successors = Vec::new();
        for r in results {
            assert_eq!(r.status(), StatusCode::OK);
            successors.push(r.json::<Value>().await.unwrap()["refresh_token"].as_str().unwrap().to_owned());
        }
        successors.dedup();
        assert_eq!(successors.len(), 1, "one successor for all: {successors:?}");
        assert_eq!(refresh(&t, &client, &successors[0]).await.status(), StatusCode::OK, "and it works");
    }
}

#[tokio::test]
async fn rfc9700_4_14_2_by_default_a_replay_right_after_rotation_revokes_the_family() {
    // The default: no grace period, so a thief replaying a stolen token one second after
    // the client used it is detected at once.
    let t = TestServer::start().await;
    assert_eq!(t.auth.settings().refresh_grace_period, 0);
    let client = t.confidential_client().await;
    t.user("alice").await;
    let first = t.tokens_for(&client, "alice").await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let second: Value = refresh(&t, &client, rt1).await.json().await.unwrap();
    t.clock.advance(1);
    assert_eq!(error_code(refresh(&t, &client, rt1).await).await, "invalid_grant");
    assert_eq!(
        error_code(refresh(&t, &client, second["refresh_token"].as_str().unwrap()).await).await,
        "invalid_grant"
    );
}

#[tokio::test]
async fn refresh_retry_from_another_client_changes_nothing() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let thief = t.confidential_client().await;
    t.user("alice").await;
    let first = t.tokens_for(&client, "alice").await;
    let rt1 = first["refresh_token"].as_str().unwrap();
    let a: Value = refresh(&t, &client, rt1).await.json().await.unwrap();
    assert_eq!(error_code(refresh(&t, &thief, rt1).await).await, "invalid_grant");
    assert_eq!(refresh(&t, &client, a["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
}
