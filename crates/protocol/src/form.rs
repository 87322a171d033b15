//! Request parameters, RFC 6749 §3.1 and §3.2.
//!
//! "Parameters sent without a value MUST be treated as if they were omitted from the
//! request" and "Request and response parameters MUST NOT be included more than once"
//! (§3.1). Both rules apply to the query of the authorization endpoint and to the
//! `application/x-www-form-urlencoded` body of the token endpoint.

use std::collections::BTreeMap;

use crate::OAuthError;

/// Most parameters any endpoint accepts; more is a hostile request.
pub const MAX_PARAMS: usize = 64;

/// Parsed parameters: each name at most once, empty values dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a body).
    pub fn parse(input: &[u8]) -> Result<Params, OAuthError> {
        let mut map = BTreeMap::new();
        let mut seen = 0usize;
        for (name, value) in form_urlencoded::parse(input) {
            seen += 1;
            if seen > MAX_PARAMS {
                return Err(OAuthError::invalid_request("too many parameters"));
            }
            if map.contains_key(name.as_ref()) {
                // §3.1: "MUST NOT be included more than once".
                return Err(OAuthError::invalid_request("a parameter is repeated (RFC 6749 §3.1)"));
            }
            map.insert(name.into_owned(), value.into_owned());
        }
        // §3.1: a parameter without a value is treated as omitted. Removed only after the
        // repeat check, so `a=&a=x` is still a repeat.
        map.retain(|_, v| !v.is_empty());
        Ok(Params(map))
    }

    /// The value of a parameter, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The value of a required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("missing parameter `{name}`")))
    }

    /// Serializes the parameters back to a query string (stable order).
    pub fn to_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new()).extend_pairs(self.0.iter()).finish()
    }

    /// Builds parameters from pairs (for tests and clients).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Params {
        Params(pairs.into_iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use proptest::prelude::*;

    #[test]
    fn rfc6749_3_1_repeated_parameter_is_invalid_request() {
        let e = Params::parse(b"code=a&code=b").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(Params::parse(b"code=&code=b").is_err());
    }

    #[test]
    fn rfc6749_3_1_empty_value_is_omitted() {
        let p = Params::parse(b"state=&scope=a").unwrap();
        assert_eq!(p.get("state"), None);
        assert_eq!(p.get("scope"), Some("a"));
    }

    #[test]
    fn rfc6749_3_1_percent_and_plus_decoding() {
        let p = Params::parse(b"redirect_uri=https%3A%2F%2Fa.example%2Fcb&scope=a+b").unwrap();
        assert_eq!(p.get("redirect_uri"), Some("https://a.example/cb"));
        assert_eq!(p.get("scope"), Some("a b"));
    }

    #[test]
    fn too_many_parameters_is_invalid_request() {
        let body: String = (0..=MAX_PARAMS).map(|i| format!("p{i}=1&")).collect();
        assert!(Params::parse(body.as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn rfc6749_3_1_form_parser_never_panics(input in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = Params::parse(&input);
        }
    }
}
