//! Dynamic client registration metadata, RFC 7591 §2 and §3.2.2.

use serde_json::{Map, Value};

use crate::client::GrantType;
use crate::{OAuthError, Scope};

/// RFC 7591 §2 `token_endpoint_auth_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// A public client.
    None,
    /// HTTP Basic (the default).
    ClientSecretBasic,
    /// Credentials in the body.
    ClientSecretPost,
}

impl AuthMethod {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
}

/// Validated client metadata.
#[derive(Debug, Clone)]
pub struct ClientMetadata {
    /// Redirection endpoints.
    pub redirect_uris: Vec<String>,
    /// How the client authenticates.
    pub token_endpoint_auth_method: AuthMethod,
    /// Grants it uses.
    pub grant_types: Vec<GrantType>,
    /// Response types (`code` or none).
    pub response_types: Vec<String>,
    /// Human-readable name.
    pub client_name: Option<String>,
    /// Scopes it may request, if named.
    pub scope: Option<Scope>,
    /// Other understood metadata, kept and echoed (`client_uri`, `contacts`, …).
    pub extra: Map<String, Value>,
}

fn bad(msg: impl Into<String>) -> OAuthError {
    OAuthError::invalid_client_metadata(msg.into())
}

fn string_list(v: &Value, field: &str) -> Result<Vec<String>, OAuthError> {
    let arr = v.as_array().ok_or_else(|| bad(format!("`{field}` must be an array of strings")))?;
    arr.iter()
        .map(|x| x.as_str().map(str::to_owned).ok_or_else(|| bad(format!("`{field}` must be an array of strings"))))
        .collect()
}

/// A redirect URI a client may register for itself: absolute, no fragment, and https, or
/// http on a loopback IP (RFC 8252 §7.3; not `localhost`, §8.3), or a private-use scheme
/// with a dot (RFC 8252 §7.1).
pub fn check_redirect_uri(uri: &str) -> Result<(), OAuthError> {
    let bad_uri = |why: &str| OAuthError::invalid_redirect_uri(format!("redirect URI: {why}"));
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad_uri("contains whitespace"));
    }
    let url = url::Url::parse(uri).map_err(|_| bad_uri("not an absolute URI"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(bad_uri("must not contain a fragment (RFC 6749 §3.1.2)"));
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(()),
        "http" if matches!(url.host_str(), Some("127.0.0.1" | "[::1]")) => Ok(()),
        "http" => Err(bad_uri("http is allowed only on a loopback IP (RFC 8252 §7.3)")),
        "javascript" | "data" | "file" | "vbscript" => Err(bad_uri("scheme not allowed")),
        s if s.contains('.') => Ok(()),
        _ => Err(bad_uri("use https, a loopback IP, or a reverse-domain private-use scheme (RFC 8252 §7.1)")),
    }
}

const KEPT_STRINGS: [&str; 6] = ["client_uri", "logo_uri", "tos_uri", "policy_uri", "software_id", "software_version"];

/// The metadata members that are web pages or images shown to users (RFC 7591 §2).
const URI_MEMBERS: [&str; 4] = ["client_uri", "logo_uri", "tos_uri", "policy_uri"];

/// RFC 7591 §5: a URI the server shows to users or links to must be an absolute https URL
/// (http only on a loopback IP), never `javascript:`, `data:` or the like.
fn check_info_uri(key: &str, uri: &str) -> Result<(), OAuthError> {
    let url = url::Url::parse(uri).map_err(|_| bad(format!("`{key}` must be an absolute https URL")))?;
    let ok = match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "[::1]")),
        _ => false,
    };
    if ok && !uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Ok(())
    } else {
        Err(bad(format!("`{key}` must be an https URL (RFC 7591 section 5)")))
    }
}

impl ClientMetadata {
    /// Validates a registration request body (RFC 7591 §2). Unknown fields are ignored
    /// ("The authorization server MUST ignore any client metadata ... it does not understand").
    pub fn parse(body: &Value) -> Result<ClientMetadata, OAuthError> {
        let obj = body.as_object().ok_or_else(|| bad("the body must be a JSON object"))?;
        if obj.contains_key("software_statement") {
            return Err(OAuthError::invalid_software_statement("software statements are not accepted by this server"));
        }
        let redirect_uris = match obj.get("redirect_uris") {
            Some(v) => string_list(v, "redirect_uris")?,
            None => Vec::new(),
        };
        for uri in &redirect_uris {
            check_redirect_uri(uri)?;
        }
        let token_endpoint_auth_method = match obj.get("token_endpoint_auth_method").map(|v| v.as_str()) {
            None => AuthMethod::ClientSecretBasic,
            Some(Some("none")) => AuthMethod::None,
            Some(Some("client_secret_basic")) => AuthMethod::ClientSecretBasic,
            Some(Some("client_secret_post")) => AuthMethod::ClientSecretPost,
            Some(_) => {
                return Err(bad("token_endpoint_auth_method must be none, client_secret_basic or client_secret_post"));
            }
        };
        let grant_types: Vec<GrantType> = match obj.get("grant_types") {
            Some(v) => string_list(v, "grant_types")?
                .iter()
                .map(|g| g.parse::<GrantType>().map_err(|_| bad("a grant type is not supported")))
                .collect::<Result<_, _>>()?,
            None => vec![GrantType::AuthorizationCode],
        };
        let has_code = grant_types.contains(&GrantType::AuthorizationCode);
        let response_types = match obj.get("response_types") {
            Some(v) => string_list(v, "response_types")?,
            None if has_code => vec!["code".to_owned()],
            None => Vec::new(),
        };
        if response_types.iter().any(|r| r.as_str() != "code") {
            return Err(bad("a response type other than code is not supported"));
        }
        // §2.1: grant_types and response_types must agree.
        if has_code != response_types.iter().any(|r| r == "code") {
            return Err(bad("grant type authorization_code and response type code go together (RFC 7591 §2.1)"));
        }
        if has_code && redirect_uris.is_empty() {
            return Err(OAuthError::invalid_redirect_uri("the authorization_code grant needs redirect_uris"));
        }
        if grant_types.is_empty() {
            return Err(bad("grant_types must not be empty"));
        }
        if token_endpoint_auth_method == AuthMethod::None && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(bad("a public client (auth method none) cannot use client_credentials"));
        }
        let client_name = match obj.get("client_name") {
            Some(Value::String(s))
                if !s.trim().is_empty() && s.chars().count() <= 200 && !s.chars().any(char::is_control) =>
            {
                Some(s.trim().to_owned())
            }
            Some(_) => return Err(bad("client_name must be a string of 1 to 200 printable characters")),
            None => None,
        };
        let scope = match obj.get("scope") {
            Some(Value::String(s)) => Some(Scope::parse(s).map_err(|_| bad("scope is not a valid scope list"))?),
            Some(_) => return Err(bad("scope must be a string")),
            None => None,
        };
        let mut extra = Map::new();
        for key in KEPT_STRINGS {
            match obj.get(key) {
                Some(Value::String(s)) if s.len() <= 2000 => {
                    if URI_MEMBERS.contains(&key) {
                        check_info_uri(key, s)?;
                    }
                    extra.insert(key.into(), Value::String(s.clone()));
                }
                Some(_) => return Err(bad(format!("`{key}` must be a string"))),
                None => {}
            }
        }
        if let Some(v) = obj.get("contacts") {
            extra.insert("contacts".into(), Value::from(string_list(v, "contacts")?));
        }
        Ok(ClientMetadata {
            redirect_uris,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            client_name,
            scope,
            extra,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::json;

    fn code(v: Value) -> ErrorCode {
        ClientMetadata::parse(&v).unwrap_err().code
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
        assert!(
            ClientMetadata::parse(&json!({"redirect_uris": ["http://127.0.0.1/cb", "com.example.app:/cb"]})).is_ok()
        );
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
}

#[cfg(test)]
mod properties {
    use super::*;
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
            if check_redirect_uri(&uri).is_ok() {
                let parsed = url::Url::parse(&uri).unwrap();
                prop_assert!(parsed.fragment().is_none());
            }
        }
    }
}
