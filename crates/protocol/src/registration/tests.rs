//! Unit tests of the registration rules and of RFC 7591 metadata parsing.

use super::*;
use crate::ErrorCode;
use serde_json::json;

fn code(v: Value) -> ErrorCode {
    ClientMetadata::parse(&v).unwrap_err().code
}

fn registration<'a>(
    name: Option<&'a str>,
    redirect_uris: &'a [String],
    grant_types: &'a [GrantType],
    client_type: ClientType,
) -> ClientRegistration<'a> {
    ClientRegistration { client_name: name, redirect_uris, grant_types, client_type }
}

const BOTH: [RegisteredBy; 2] = [RegisteredBy::Operator, RegisteredBy::Client];

#[test]
fn rfc7591_2_client_name_is_1_to_200_printable_characters() {
    let uris = ["https://a.example/cb".to_owned()];
    let grants = [GrantType::AuthorizationCode];
    for by in BOTH {
        let check = |name: &str| check_client(&registration(Some(name), &uris, &grants, ClientType::Public), by);
        assert_eq!(check("  Notes app ").unwrap().as_deref(), Some("Notes app"), "stored trimmed");
        assert_eq!(check(&"n".repeat(200)).unwrap().as_deref(), Some("n".repeat(200).as_str()));
        for name in [
            "",
            "   ",
            "Notes\napp",
            "Notes app\n",
            "\tNotes",
            "n".repeat(201).as_str(),
            format!(" {}", "n".repeat(200)).as_str(),
        ] {
            assert_eq!(check(name).unwrap_err().code, ErrorCode::InvalidClientMetadata, "{name:?} {by:?}");
        }
        assert_eq!(check_client(&registration(None, &uris, &grants, ClientType::Public), by).unwrap(), None);
    }
}

#[test]
fn rfc6749_3_1_2_code_grant_needs_a_registered_redirect_uri() {
    for by in BOTH {
        let err = check_client(&registration(None, &[], &[GrantType::AuthorizationCode], ClientType::Public), by);
        assert_eq!(err.unwrap_err().code, ErrorCode::InvalidRedirectUri, "{by:?}");
        let device = [GrantType::DeviceCode];
        assert!(check_client(&registration(None, &[], &device, ClientType::Public), by).is_ok());
        let none = check_client(&registration(None, &[], &[], ClientType::Confidential), by);
        assert_eq!(none.unwrap_err().code, ErrorCode::InvalidClientMetadata, "no grant at all");
    }
}

#[test]
fn rfc6749_4_4_public_clients_cannot_use_client_credentials() {
    let grants = [GrantType::ClientCredentials];
    for by in BOTH {
        let public = check_client(&registration(None, &[], &grants, ClientType::Public), by);
        assert_eq!(public.unwrap_err().code, ErrorCode::InvalidClientMetadata, "{by:?}");
        assert!(check_client(&registration(None, &[], &grants, ClientType::Confidential), by).is_ok());
    }
}

#[test]
fn rfc8252_8_3_only_the_operator_registers_localhost() {
    let uris = ["http://localhost:3000/callback".to_owned()];
    let grants = [GrantType::AuthorizationCode];
    let r = registration(Some("Demo"), &uris, &grants, ClientType::Confidential);
    assert!(check_client(&r, RegisteredBy::Operator).is_ok());
    assert_eq!(check_client(&r, RegisteredBy::Client).unwrap_err().code, ErrorCode::InvalidRedirectUri);
}

#[test]
fn rfc6749_3_3_registered_scope_is_offered_and_not_empty() {
    let offered = Scope::from_tokens(["profile", "notes:read"]);
    assert!(check_requested_scope(&Scope::from_tokens(["profile"]), &offered).is_ok());
    assert!(check_requested_scope(&offered, &offered).is_ok());
    let unknown = check_requested_scope(&Scope::from_tokens(["profile", "admin"]), &offered).unwrap_err();
    assert_eq!(unknown.code, ErrorCode::InvalidClientMetadata);
    assert!(unknown.description.contains("admin"), "{unknown}");
    assert_eq!(check_requested_scope(&Scope::default(), &offered).unwrap_err().code, ErrorCode::InvalidClientMetadata);
}

#[test]
fn rfc7591_2_defaults() {
    let m = ClientMetadata::parse(&json!({"redirect_uris": ["https://a.example/cb"]})).unwrap();
    assert_eq!(m.grant_types, [GrantType::AuthorizationCode]);
    assert_eq!(m.response_types, ["code"]);
    assert_eq!(m.token_endpoint_auth_method, AuthMethod::ClientSecretBasic);
}

#[test]
fn rfc7591_3_2_2_invalid_redirect_uri() {
    for uri in [
        "/cb",
        "https://a.example/cb#x",
        "http://a.example/cb",
        "http://localhost/cb",
        "javascript:alert(1)",
        "myapp:/cb",
    ] {
        assert_eq!(code(json!({"redirect_uris": [uri]})), ErrorCode::InvalidRedirectUri, "{uri}");
    }
    assert!(ClientMetadata::parse(&json!({"redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/cb"]})).is_ok());
    assert_eq!(code(json!({})), ErrorCode::InvalidRedirectUri, "the code grant needs a redirect URI");
}

#[test]
fn rfc7591_5_uris_shown_to_users_are_https() {
    for key in URI_MEMBERS {
        for uri in ["javascript:alert(1)", "data:text/html,x", "http://evil.example/", "/relative", "https:// x"] {
            let body = json!({"grant_types": ["client_credentials"], key: uri});
            assert_eq!(code(body), ErrorCode::InvalidClientMetadata, "{key} {uri}");
        }
        for uri in ["https://app.example/logo.png", "http://127.0.0.1:8080/tos"] {
            let body = json!({"grant_types": ["client_credentials"], key: uri});
            assert!(ClientMetadata::parse(&body).is_ok(), "{key} {uri}");
        }
    }
}

#[test]
fn rfc7591_2_1_grant_and_response_types_must_agree() {
    assert_eq!(
        code(json!({"redirect_uris": ["https://a.example/cb"], "response_types": ["token"]})),
        ErrorCode::InvalidClientMetadata
    );
    assert_eq!(
        code(json!({"grant_types": ["client_credentials"], "response_types": ["code"]})),
        ErrorCode::InvalidClientMetadata
    );
    assert_eq!(code(json!({"grant_types": ["implicit"]})), ErrorCode::InvalidClientMetadata);
    assert_eq!(
        code(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"})),
        ErrorCode::InvalidClientMetadata
    );
    assert_eq!(
        code(json!({"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"})),
        ErrorCode::InvalidClientMetadata
    );
    let m = ClientMetadata::parse(&json!({"grant_types": ["client_credentials"]})).unwrap();
    assert!(m.response_types.is_empty());
}

#[test]
fn rfc7591_3_2_2_software_statement_and_wrong_types() {
    assert_eq!(code(json!({"software_statement": "eyJ..."})), ErrorCode::InvalidSoftwareStatement);
    assert_eq!(code(json!([1, 2])), ErrorCode::InvalidClientMetadata);
    assert_eq!(code(json!({"redirect_uris": "https://a.example/cb"})), ErrorCode::InvalidClientMetadata);
    assert_eq!(code(json!({"grant_types": ["client_credentials"], "scope": 5})), ErrorCode::InvalidClientMetadata);
}

mod properties {
    use crate::registration::*;
    use proptest::prelude::*;

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "\\PC{0,40}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("redirect_uris".to_owned()),
                        Just("grant_types".to_owned()),
                        Just("response_types".to_owned()),
                        Just("scope".to_owned()),
                        Just("client_name".to_owned()),
                        Just("token_endpoint_auth_method".to_owned()),
                        Just("contacts".to_owned()),
                        "[a-z_]{1,12}",
                    ],
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn rfc7591_2_metadata_validation_never_panics(v in json_value()) {
            let _ = ClientMetadata::parse(&v);
        }

        #[test]
        fn rfc7591_2_registered_redirect_uris_are_absolute_without_fragment(uri in "\\PC{0,60}") {
            if redirect::check_registered(&uri, RegisteredBy::Client).is_ok() {
                let parsed = url::Url::parse(&uri).unwrap();
                prop_assert!(parsed.fragment().is_none());
            }
        }
    }
}
