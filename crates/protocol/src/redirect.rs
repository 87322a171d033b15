//! Redirection endpoints, RFC 6749 §3.1.2, RFC 8252 §7.3 and RFC 9700 §4.1.3.

use url::Url;

use crate::OAuthError;

/// Who registers a client: the one difference between the redirect URIs an operator may
/// register and those a client may register for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisteredBy {
    /// The operator (`latchkey clients add`, the demo): may also register
    /// `http://localhost`, which RFC 8252 §8.3 only calls "NOT RECOMMENDED" (the demo's
    /// client runs there). Such a URI is still matched exactly, port included (§7.3's
    /// any-port rule is for loopback IP literals only).
    Operator,
    /// The client itself, by dynamic registration (RFC 7591): loopback IP literals only.
    Client,
}

/// Checks a redirect URI a client is registered with, by the operator or by itself.
///
/// RFC 6749 §3.1.2: "MUST be an absolute URI" and "MUST NOT include a fragment component".
/// No whitespace or control characters: RFC 9700 §4.1.3 compares redirect URIs by exact
/// string matching, so what is registered must be what a client can send. `https`, or
/// plain `http` on a loopback IP literal (RFC 8252 §7.3, RFC 9700 §2.6) — `localhost` only
/// when the operator registers it (RFC 8252 §8.3: "the use of localhost is NOT
/// RECOMMENDED"; see [`RegisteredBy`]) —, or a private-use scheme in reverse domain order
/// (RFC 8252 §7.1, `com.example.app:/cb`). Errors are RFC 7591 §3.2.2
/// `invalid_redirect_uri`.
pub fn check_registered(uri: &str, by: RegisteredBy) -> Result<(), OAuthError> {
    let bad = |why: &str| OAuthError::invalid_redirect_uri(format!("redirect URI: {why}"));
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains whitespace"));
    }
    let url = Url::parse(uri).map_err(|_| bad("not an absolute URI"))?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(bad("must not contain a fragment (RFC 6749 §3.1.2)"));
    }
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(()),
        "http" if is_loopback_host(&url) => Ok(()),
        "http" if by == RegisteredBy::Operator && url.host_str() == Some("localhost") => Ok(()),
        "http" => Err(bad("http is allowed only on a loopback IP (RFC 8252 §7.3)")),
        "javascript" | "data" | "file" | "vbscript" => Err(bad("scheme not allowed")),
        scheme if scheme.contains('.') => Ok(()),
        _ => Err(bad("use https, a loopback IP, or a reverse-domain private-use scheme (RFC 8252 §7.1)")),
    }
}

/// RFC 8252 §7.3: the loopback IP literals, IPv4 and IPv6.
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
        for by in [RegisteredBy::Operator, RegisteredBy::Client] {
            assert!(check_registered("https://app.example/cb", by).is_ok());
            assert!(check_registered("http://127.0.0.1/cb", by).is_ok());
            assert!(check_registered("com.example.app:/cb", by).is_ok());
            assert!(check_registered("/cb", by).is_err());
            assert!(check_registered("https://app.example/cb#x", by).is_err());
            assert!(check_registered("http://app.example/cb", by).is_err());
            assert!(check_registered("javascript:alert(1)", by).is_err());
        }
    }

    #[test]
    fn rfc8252_7_3_http_only_on_loopback_ip_literals() {
        for by in [RegisteredBy::Operator, RegisteredBy::Client] {
            for uri in ["http://127.0.0.1/cb", "http://127.0.0.1:8000/cb", "http://[::1]/cb", "http://[::1]:9/cb?x=1"] {
                assert_eq!(check_registered(uri, by), Ok(()), "{uri} {by:?}");
            }
            for uri in
                ["http://app.example/cb", "http://127.0.0.2/cb", "http://10.0.0.1/cb", "http://127.0.0.1.evil.example/"]
            {
                let err = check_registered(uri, by).unwrap_err();
                assert_eq!(err.code, crate::ErrorCode::InvalidRedirectUri, "{uri} {by:?}");
            }
        }
    }

    #[test]
    fn rfc8252_8_3_localhost_only_when_the_operator_registers_it() {
        for uri in ["http://localhost/cb", "http://localhost:3000/callback", "http://LOCALHOST:3000/cb"] {
            assert_eq!(check_registered(uri, RegisteredBy::Operator), Ok(()), "{uri}");
            let err = check_registered(uri, RegisteredBy::Client).unwrap_err();
            assert_eq!(err.code, crate::ErrorCode::InvalidRedirectUri, "{uri}");
        }
        assert!(check_registered("https://localhost/cb", RegisteredBy::Client).is_ok(), "https is https");
    }

    #[test]
    fn rfc9700_4_1_3_registered_uri_has_no_whitespace() {
        for by in [RegisteredBy::Operator, RegisteredBy::Client] {
            for uri in [
                "https://app.example/c b",
                "https://app.example/cb ",
                " https://app.example/cb",
                "https://app.example/\tcb",
            ] {
                assert!(check_registered(uri, by).is_err(), "{uri:?} {by:?}");
            }
        }
    }

    #[test]
    fn rfc8252_7_1_private_use_schemes_have_a_dot() {
        for by in [RegisteredBy::Operator, RegisteredBy::Client] {
            assert!(check_registered("com.example.app:/oauth2redirect", by).is_ok());
            for uri in ["myapp:/cb", "data:text/html,x", "file:///etc/passwd", "vbscript:x"] {
                assert!(check_registered(uri, by).is_err(), "{uri} {by:?}");
            }
        }
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

        #[test]
        fn rfc6749_3_1_2_registered_uris_are_absolute_without_fragment(uri in "\\PC{0,60}") {
            let by_client = check_registered(&uri, RegisteredBy::Client).is_ok();
            let by_operator = check_registered(&uri, RegisteredBy::Operator).is_ok();
            prop_assert!(by_operator || !by_client, "the operator may register all a client may");
            if by_operator {
                let parsed = Url::parse(&uri).unwrap();
                prop_assert!(parsed.fragment().is_none());
            }
        }
    }
}
