//! Redirection endpoints, RFC 6749 §3.1.2, RFC 8252 §7.3 and RFC 9700 §4.1.3.

use url::Url;

use crate::OAuthError;

/// Checks a redirect URI a client registers: §3.1.2 "MUST be an absolute URI" and "MUST
/// NOT include a fragment component". Plain `http` is allowed only for loopback hosts
/// (RFC 8252 §7.3, RFC 9700 §2.6); private-use schemes are allowed for native apps
/// (RFC 8252 §7.1).
pub fn validate_registered(uri: &str) -> Result<(), OAuthError> {
    let parsed = Url::parse(uri).map_err(|_| OAuthError::invalid_request("the redirect URI is not an absolute URI"))?;
    if parsed.fragment().is_some() || uri.contains('#') {
        return Err(OAuthError::invalid_request("a redirect URI must not contain a fragment (RFC 6749 §3.1.2)"));
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if is_loopback_host(&parsed) || parsed.host_str() == Some("localhost") => Ok(()),
        "http" => Err(OAuthError::invalid_request("plain http redirect URIs are allowed only on loopback hosts")),
        // RFC 8252 §7.1: private-use URI schemes in reverse domain order (`com.example.app:/cb`).
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(OAuthError::invalid_request("the redirect URI's scheme is not allowed")),
    }
}

fn is_loopback_host(url: &Url) -> bool {
    matches!(url.host_str(), Some("127.0.0.1") | Some("[::1]"))
}

/// Does the requested redirect URI match a registered one?
///
/// RFC 9700 §4.1.3: "the authorization server MUST ensure that the redirect URI ... is
/// compared ... using exact string matching". The one exception (RFC 8252 §7.3): for a
/// loopback IP redirect URI, "the authorization server MUST allow any port to be specified
/// at the time of the request". Only the port may differ, nothing else.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    match (loopback_without_port(registered), loopback_without_port(requested)) {
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// For `http://127.0.0.1[:port]/path` or `http://[::1][:port]/path`, the string with the
/// port removed; `None` for anything else. Works on the raw string so no normalisation
/// (case, dot segments, encoding) can make two different URIs equal.
fn loopback_without_port(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("http://")?;
    let (host, after_host) = if let Some(r) = rest.strip_prefix("[::1]") {
        ("[::1]", r)
    } else if let Some(r) = rest.strip_prefix("127.0.0.1") {
        ("127.0.0.1", r)
    } else {
        return None;
    };
    let after_port = match after_host.strip_prefix(':') {
        Some(p) => {
            let digits = p.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 5 {
                return None;
            }
            &p[digits..]
        }
        None => after_host,
    };
    if !(after_port.is_empty() || after_port.starts_with(['/', '?'])) {
        return None;
    }
    Some(format!("http://{host}{after_port}"))
}

/// Adds response parameters to a redirect URI's query, keeping its existing query (§3.1.2:
/// "MUST retain that query component when adding additional query parameters").
pub fn with_params(redirect_uri: &str, params: &[(&str, &str)]) -> String {
    let mut out = String::from(redirect_uri);
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        ser.append_pair(k, v);
    }
    let query = ser.finish();
    if query.is_empty() {
        return out;
    }
    out.push(if redirect_uri.contains('?') { '&' } else { '?' });
    out.push_str(&query);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc9700_4_1_3_exact_string_match() {
        assert!(matches("https://app.example/cb", "https://app.example/cb"));
        assert!(!matches("https://app.example/cb", "https://app.example/cb/"));
        assert!(!matches("https://app.example/cb", "https://APP.example/cb"));
        assert!(!matches("https://app.example/cb", "https://app.example/cb?x=1"));
        assert!(!matches("https://app.example/cb", "https://app.example:443/cb"));
        assert!(!matches("https://app.example/cb", "https://app.example/%63b"));
    }

    #[test]
    fn rfc8252_7_3_loopback_port_may_vary() {
        assert!(matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/cb"));
        assert!(matches("http://127.0.0.1:8000/cb", "http://127.0.0.1:9/cb"));
        assert!(matches("http://[::1]/cb", "http://[::1]:4000/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:51234/other"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1.evil.example/cb"));
        assert!(!matches("http://127.0.0.1/cb", "http://127.0.0.1:80@evil.example/cb"));
        assert!(!matches("http://localhost/cb", "http://localhost:3000/cb"));
        assert!(!matches("https://127.0.0.1/cb", "https://127.0.0.1:3000/cb"));
    }

    #[test]
    fn rfc6749_3_1_2_registered_uri_must_be_absolute_without_fragment() {
        assert!(validate_registered("https://app.example/cb").is_ok());
        assert!(validate_registered("http://127.0.0.1/cb").is_ok());
        assert!(validate_registered("com.example.app:/cb").is_ok());
        assert!(validate_registered("/cb").is_err());
        assert!(validate_registered("https://app.example/cb#x").is_err());
        assert!(validate_registered("http://app.example/cb").is_err());
        assert!(validate_registered("javascript:alert(1)").is_err());
    }

    #[test]
    fn rfc6749_3_1_2_query_component_is_retained() {
        assert_eq!(with_params("https://a.example/cb?x=1", &[("code", "c d")]), "https://a.example/cb?x=1&code=c+d");
        assert_eq!(with_params("https://a.example/cb", &[("state", "s")]), "https://a.example/cb?state=s");
    }

    proptest! {
        #[test]
        fn rfc9700_4_1_3_match_never_panics_and_is_exact_off_loopback(a in "\\PC*", b in "\\PC*") {
            let m = matches(&a, &b);
            if !a.starts_with("http://127.0.0.1") && !a.starts_with("http://[::1]") {
                prop_assert_eq!(m, a == b);
            }
        }
    }
}
