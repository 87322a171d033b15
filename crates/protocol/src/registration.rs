//! Client registration: the rules every registration passes, whoever makes it
//! ([`check_client`], [`check_requested_scope`]), and dynamic client registration
//! metadata, RFC 7591 §2 and §3.2.2 ([`ClientMetadata`]).

use serde_json::{Map, Value};

use crate::client::{ClientType, GrantType};
use crate::redirect::{self, RegisteredBy};
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

/// The longest client name, in characters.
pub const MAX_CLIENT_NAME: usize = 200;

/// What every registration names, whoever makes it: the operator (`latchkey clients add`)
/// or the client itself (RFC 7591 §3.1). The defaults each path fills in are its own.
#[derive(Debug, Clone, Copy)]
pub struct ClientRegistration<'a> {
    /// The human-readable name (RFC 7591 §2 `client_name`), as given.
    pub client_name: Option<&'a str>,
    /// The redirection endpoints (RFC 6749 §3.1.2).
    pub redirect_uris: &'a [String],
    /// The grants it will use.
    pub grant_types: &'a [GrantType],
    /// Public (no secret, RFC 7591 `token_endpoint_auth_method` `none`) or confidential.
    pub client_type: ClientType,
}

/// Checks a registration, by the operator or by the client itself (`by` decides only which
/// redirect URIs are allowed, [`redirect::check_registered`]). Returns the client name to
/// store: trimmed. Errors are RFC 7591 §3.2.2 codes: `invalid_redirect_uri` for the
/// redirect URIs, `invalid_client_metadata` for the rest.
pub fn check_client(registration: &ClientRegistration<'_>, by: RegisteredBy) -> Result<Option<String>, OAuthError> {
    let ClientRegistration { client_name, redirect_uris, grant_types, client_type } = *registration;
    for uri in redirect_uris {
        redirect::check_registered(uri, by)?;
    }
    // RFC 6749 §3.1.2.2 / RFC 7591 §2: the code grant needs a redirection endpoint to send the code to.
    if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
        return Err(OAuthError::invalid_redirect_uri("the authorization_code grant needs at least one redirect URI"));
    }
    if grant_types.is_empty() {
        return Err(bad("a client needs at least one grant type"));
    }
    // RFC 6749 §4.4: "The client credentials grant type MUST only be used by confidential clients."
    if client_type == ClientType::Public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(bad("a public client cannot use client_credentials (RFC 6749 §4.4)"));
    }
    client_name.map(check_client_name).transpose()
}

/// RFC 7591 §2 `client_name`, shown on the consent page: 1 to [`MAX_CLIENT_NAME`]
/// characters, none of them a control character. Returned trimmed.
fn check_client_name(name: &str) -> Result<String, OAuthError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || name.chars().count() > MAX_CLIENT_NAME || name.chars().any(char::is_control) {
        return Err(bad(format!("a client name has 1 to {MAX_CLIENT_NAME} printable characters")));
    }
    Ok(trimmed.to_owned())
}

/// The scope a client asks to be registered with, against the scopes the server offers:
/// every token known, and at least one (RFC 6749 §3.3: a client with no scope could only
/// get grants its users were never asked about, §10.2).
pub fn check_requested_scope(asked: &Scope, offered: &Scope) -> Result<(), OAuthError> {
    let unknown = asked.difference(offered);
    if !unknown.is_empty() {
        return Err(bad(format!("unknown scope(s): {unknown}; the server offers: {offered}")));
    }
    if asked.is_empty() {
        return Err(bad("the scope names no scope"));
    }
    Ok(())
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
        let client_name = match obj.get("client_name") {
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(bad("client_name must be a string")),
            None => None,
        };
        let client_type = match token_endpoint_auth_method {
            AuthMethod::None => ClientType::Public,
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost => ClientType::Confidential,
        };
        let registration =
            ClientRegistration { client_name, redirect_uris: &redirect_uris, grant_types: &grant_types, client_type };
        let client_name = check_client(&registration, RegisteredBy::Client)?;
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
mod tests;
