//! `latchkey-client` against the real server: revocation, introspection, registration.

use latchkey_client::{ClientError, ErrorCode, OAuthClient, ReceivedCode, manage_registration, register_client};
use latchkey_flows::RegistrationPolicy;
use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn client_library_registers_introspects_and_revokes() {
    let t = TestServer::start_with(|s| {
        s.registration = RegistrationPolicy::Open;
        s.registration_client_credentials_scopes = vec!["profile".into()];
    })
    .await;
    let meta = OAuthClient::discover(&t.url, "x", None).await.unwrap().metadata().clone();
    let endpoint = meta.registration_endpoint.unwrap();
    let reg = register_client(&endpoint, None, &json!({"client_name": "Lib", "grant_types": ["client_credentials"]}))
        .await
        .unwrap();
    let (id, secret) = (reg["client_id"].as_str().unwrap(), reg["client_secret"].as_str().unwrap());
    let client = OAuthClient::discover(&t.url, id, Some(secret)).await.unwrap();
    let tokens = client.client_credentials(Some("profile")).await.unwrap();
    let info = client.introspect(&tokens.access_token, Some("access_token")).await.unwrap();
    assert!(info.active);
    assert_eq!(info.client_id.as_deref(), Some(id));
    client.revoke(&tokens.access_token, None).await.unwrap();
    assert!(!client.introspect(&tokens.access_token, None).await.unwrap().active);

    let uri = reg["registration_client_uri"].as_str().unwrap();
    let rat = reg["registration_access_token"].as_str().unwrap();
    let read = manage_registration(reqwest::Method::GET, uri, rat, None).await.unwrap();
    assert_eq!(read["client_name"], "Lib");
    manage_registration(reqwest::Method::DELETE, uri, rat, None).await.unwrap();
    let err = client.client_credentials(None).await.unwrap_err();
    assert!(
        matches!(err, ClientError::OAuth { error: ReceivedCode::Known(ErrorCode::InvalidClient), status: 401, .. }),
        "{err}"
    );
    let err =
        register_client(&endpoint, None, &json!({"redirect_uris": ["http://evil.example/cb"]})).await.unwrap_err();
    assert!(
        matches!(err, ClientError::OAuth { error: ReceivedCode::Known(ErrorCode::InvalidRedirectUri), .. }),
        "{err}"
    );
}
