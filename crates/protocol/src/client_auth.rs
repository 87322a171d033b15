//! Client authentication, RFC 6749 §2.3.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::OAuthError;
use crate::form::Params;
use crate::secret::ClientSecret;

/// How a client presented itself at the token endpoint.
#[derive(Debug)]
pub enum ClientCredentials {
    /// §2.3.1 HTTP Basic (`client_secret_basic`).
    Basic {
        /// The client identifier.
        client_id: String,
        /// The client password.
        secret: ClientSecret,
    },
    /// §2.3.1 request body (`client_secret_post`).
    Post {
        /// The client identifier.
        client_id: String,
        /// The client password.
        secret: ClientSecret,
    },
    /// §2.3 / §3.2.1 a public client naming itself with `client_id` (`none`).
    None {
        /// The client identifier.
        client_id: String,
    },
}

impl ClientCredentials {
    /// The client identifier claimed.
    pub fn client_id(&self) -> &str {
        match self {
            ClientCredentials::Basic { client_id, .. }
            | ClientCredentials::Post { client_id, .. }
            | ClientCredentials::None { client_id } => client_id,
        }
    }

    /// The secret presented, if any.
    pub fn secret(&self) -> Option<&ClientSecret> {
        match self {
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. } => Some(secret),
            ClientCredentials::None { .. } => None,
        }
    }

    /// Reads the credentials from the `Authorization` header value (if any) and the form.
    ///
    /// §2.3: "The client MUST NOT use more than one authentication method in each request."
    pub fn from_request(authorization: Option<&str>, form: &Params) -> Result<ClientCredentials, OAuthError> {
        let form_secret = form.get("client_secret");
        let form_id = form.get("client_id");
        if let Some(header) = authorization {
            let (client_id, secret) = parse_basic(header)?;
            if form_secret.is_some() {
                return Err(OAuthError::invalid_request("more than one client authentication method used"));
            }
            // A `client_id` in the body must agree with the one authenticated.
            if form_id.is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request("client_id does not match the authenticated client"));
            }
            return Ok(ClientCredentials::Basic { client_id, secret: ClientSecret::new(secret) });
        }
        match (form_id, form_secret) {
            (Some(id), Some(secret)) => {
                Ok(ClientCredentials::Post { client_id: id.to_owned(), secret: ClientSecret::new(secret.to_owned()) })
            }
            (Some(id), None) => Ok(ClientCredentials::None { client_id: id.to_owned() }),
            (None, Some(_)) => Err(OAuthError::invalid_request("client_secret without client_id")),
            (None, None) => Err(OAuthError::invalid_client("client authentication is required")),
        }
    }
}

/// Parses `Authorization: Basic …` (§2.3.1): base64 of `id:secret`, where both halves are
/// `application/x-www-form-urlencoded` encoded (Appendix B) before being joined.
pub fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    let bad = || OAuthError::invalid_client("malformed Basic authorization header");
    let (scheme, rest) = header.trim().split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client("unsupported authorization scheme"));
    }
    let decoded = STANDARD.decode(rest.trim()).map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let id = form_decode(id).ok_or_else(bad)?;
    let secret = form_decode(secret).ok_or_else(bad)?;
    if id.is_empty() {
        return Err(bad());
    }
    Ok((id, secret))
}

/// Encodes a Basic header value per §2.3.1 (used by the client library and tests).
pub fn basic_header(client_id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(client_id), enc(secret))))
}

fn form_decode(s: &str) -> Option<String> {
    // A lone component decodes like a form value: `+` is a space, `%XX` a byte.
    let bytes: Vec<u8> = s.replace('+', " ").into_bytes();
    let decoded: Vec<u8> = percent_decode(&bytes)?;
    String::from_utf8(decoded).ok()
}

fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hex = input.get(i + 1..i + 3)?;
            let text = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(text, 16).ok()?);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use proptest::prelude::*;

    #[test]
    fn rfc6749_2_3_1_basic_credentials_are_form_decoded() {
        let header = basic_header("my client", "s%e:c+r");
        assert_eq!(parse_basic(&header).unwrap(), ("my client".to_owned(), "s%e:c+r".to_owned()));
    }

    #[test]
    fn rfc6749_2_3_1_malformed_basic_is_invalid_client() {
        for h in ["Basic", "Basic !!!", "Basic Zm9v", "Bearer abc", "Basic JXp6OnNlY3JldA=="] {
            assert_eq!(parse_basic(h).unwrap_err().code, ErrorCode::InvalidClient, "{h}");
        }
    }

    #[test]
    fn rfc6749_2_3_one_authentication_method_only() {
        let form = Params::from_pairs([("client_secret", "x"), ("client_id", "a")]);
        let e = ClientCredentials::from_request(Some(&basic_header("a", "x")), &form).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    proptest! {
        #[test]
        fn rfc6749_2_3_1_basic_parser_never_panics(input in "\\PC*") {
            let _ = parse_basic(&input);
        }

        #[test]
        fn rfc6749_2_3_1_basic_round_trips(id in "\\PC{1,20}", secret in "\\PC{0,40}") {
            prop_assert_eq!(parse_basic(&basic_header(&id, &secret)).unwrap(), (id, secret));
        }
    }
}
