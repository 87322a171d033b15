//! The bad-input sweep: for every endpoint, a corpus of malformed requests. Every answer
//! is a 4xx in the RFC's format (or, for introspection of a bad token, RFC 7662's
//! `{"active":false}`), never a 5xx, and the database is the same afterwards.

use base64::Engine;
use latchkey_flows::RegistrationPolicy;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::*;

const INJECTIONS: [&str; 8] = [
    "' OR '1'='1' --",
    "<script>alert(1)</script>",
    "../../../../etc/passwd",
    "%00",
    "\u{0}",
    "${jndi:ldap://x/a}",
    "\u{202e}gnp.exe",
    "😀😀😀",
];

/// What must not change: every table's row count, and the full snapshot of the store.
async fn dump(t: &TestServer) -> String {
    let pool = sqlx::SqlitePool::connect(&t.db_url).await.unwrap();
    let mut out = String::new();
    for table in [
        "clients",
        "users",
        "sessions",
        "consents",
        "consumed_codes",
        "refresh_tokens",
        "access_tokens",
        "device_codes",
        "registration_tokens",
        "login_failures",
        "audit_events",
        "signing_keys",
    ] {
        let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
            .fetch_one(&pool)
            .await
            .unwrap();
        out.push_str(&format!("{table}={n}\n"));
    }
    pool.close().await;
    out.push_str(&serde_json::to_string(&t.store.export(0).await.unwrap()).unwrap());
    out
}

struct Sweep<'a> {
    t: &'a TestServer,
    http: reqwest::Client,
    sent: usize,
}

impl Sweep<'_> {
    async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (StatusCode, String, reqwest::header::HeaderMap) {
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.t.url)).body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{method} {path}: no answer: {e}"));
        self.sent += 1;
        let (status, h) = (res.status(), res.headers().clone());
        let text = res.text().await.unwrap_or_default();
        assert!(status.as_u16() < 500, "{method} {path} {headers:?}: {status} {text}");
        check_descriptions(&format!("{method} {path}"), &text, &h);
        (status, text, h)
    }

    /// A JSON endpoint: a 4xx whose body carries an RFC `error` code.
    async fn json_error(&mut self, method: Method, path: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) {
        let (status, text, _) = self.send(method.clone(), path, headers, body.into()).await;
        assert!(status.is_client_error(), "{method} {path} {headers:?}: {status} {text}");
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{method} {path}: {text}");
    }

    /// A page: a 4xx HTML page, or a redirect to the client carrying an `error`.
    async fn page_error(&mut self, method: Method, path: &str, headers: &[(&str, &str)], body: impl Into<Vec<u8>>) {
        let (status, text, h) = self.send(method.clone(), path, headers, body.into()).await;
        if status == StatusCode::FOUND || status == StatusCode::SEE_OTHER {
            let loc = h["location"].to_str().unwrap();
            assert!(param(loc, "error").is_some(), "{method} {path}: redirect without error: {loc}");
        } else {
            assert!(status.is_client_error(), "{method} {path}: {status}");
            assert!(
                text.contains("</html>") || text.is_empty() || status == StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}: {text}"
            );
        }
    }
}

/// RFC 6749 §5.2 (and §4.1.2.1, RFC 6750 §3): "Values for the "error_description"
/// parameter MUST NOT include characters outside the set %x20-21 / %x23-5B / %x5D-7E."
fn assert_inside_the_set(what: &str, description: &str) {
    assert!(
        description.bytes().all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)),
        "{what}: error_description {description:?}"
    );
}

/// Checks every `error_description` an answer carries: in a JSON body, in the query of a
/// redirect, in a `WWW-Authenticate` challenge. Returns how many it saw.
fn check_descriptions(what: &str, text: &str, headers: &reqwest::header::HeaderMap) -> usize {
    let mut seen = 0;
    if let Ok(v) = serde_json::from_str::<Value>(text)
        && let Some(d) = v.get("error_description")
    {
        assert_inside_the_set(what, d.as_str().unwrap_or_else(|| panic!("{what}: not a string: {d}")));
        seen += 1;
    }
    if let Some(loc) = headers.get("location").and_then(|l| l.to_str().ok())
        && let Some(d) = param(loc, "error_description")
    {
        assert_inside_the_set(what, &d);
        seen += 1;
    }
    for challenge in headers.get_all("www-authenticate") {
        let challenge = challenge.to_str().unwrap_or_else(|_| panic!("{what}: challenge not ASCII: {challenge:?}"));
        if let Some((_, rest)) = challenge.split_once("error_description=\"") {
            let d = rest.split_once('"').map_or(rest, |(d, _)| d);
            assert_inside_the_set(what, d);
            assert!(!rest.contains('\\'), "{what}: {challenge}");
            seen += 1;
        }
    }
    seen
}

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}")))
}

#[tokio::test]
async fn every_endpoint_answers_malformed_requests_with_a_4xx_and_changes_nothing() {
    let t = TestServer::start_with(|s| s.registration = RegistrationPolicy::Open).await;
    let client = t.confidential_client().await;
    let public = t.public_client().await;
    t.user("alice").await;
    let before = dump(&t).await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap();
    let mut s = Sweep { t: &t, http, sent: 0 };
    let form = ("content-type", "application/x-www-form-urlencoded");
    let good_basic = basic(&client.id, client.secret.as_deref().unwrap());
    let auth = ("authorization", good_basic.as_str());

    let bodies: Vec<Vec<u8>> = {
        let mut b: Vec<Vec<u8>> = vec![
            b"".to_vec(),
            b"grant_type=\xff\xfe\xfd".to_vec(),
            b"grant_type=%zz&code=%".to_vec(),
            b"grant_type=authorization_code&grant_type=authorization_code".to_vec(),
            b"grant_type=authorization_code&code=a&code=b".to_vec(),
            b"grant_type=refresh_token".to_vec(),
            b"grant_type=authorization_code".to_vec(),
            b"grant_type=client_credentials&scope=%22%5C".to_vec(),
            b"grant_type=urn:ietf:params:oauth:grant-type:device_code".to_vec(),
            b"grant_type=password&username=alice&password=x".to_vec(),
            b"=&&&=&".to_vec(),
            format!("grant_type=authorization_code&code={}", "a".repeat(10_000)).into_bytes(),
            format!("grant_type=refresh_token&refresh_token=lkr_{}", "b".repeat(5_000)).into_bytes(),
            vec![b'a'; 100_000],
            (0..200).map(|i| format!("p{i}=1&")).collect::<String>().into_bytes(),
        ];
        for inj in INJECTIONS {
            let e = |v: &str| form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            b.push(format!("grant_type={}", e(inj)).into_bytes());
            b.push(
                format!(
                    "grant_type=authorization_code&code={}&redirect_uri={}&code_verifier={}",
                    e(inj),
                    e(inj),
                    e(inj)
                )
                .into_bytes(),
            );
            b.push(format!("grant_type=refresh_token&refresh_token={}&scope={}", e(inj), e(inj)).into_bytes());
            b.push(format!("grant_type=client_credentials&scope={}&client_id={}", e(inj), e(inj)).into_bytes());
        }
        b
    };

    // The token endpoint, with good and broken client authentication.
    let broken_basics = [
        "Basic",
        "Basic ===",
        "Basic !!!!",
        &basic("nocolon", "")[..],
        "Bearer abc",
        "basic",
        "Digest x",
        &format!("Basic {}", "A".repeat(6000)),
    ];
    for body in &bodies {
        s.json_error(Method::POST, "/token", &[form, auth], body.clone()).await;
    }
    for b in broken_basics {
        s.json_error(Method::POST, "/token", &[form, ("authorization", b)], b"grant_type=client_credentials".to_vec())
            .await;
    }
    for ct in [
        "application/json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded-ish",
        "",
    ] {
        s.json_error(Method::POST, "/token", &[("content-type", ct), auth], b"grant_type=client_credentials".to_vec())
            .await;
    }
    s.json_error(Method::POST, "/token", &[auth], b"grant_type=client_credentials".to_vec()).await;
    for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
        for path in ["/token", "/revoke", "/introspect", "/device_authorization"] {
            s.json_error(method.clone(), path, &[form, auth], b"grant_type=client_credentials".to_vec()).await;
        }
    }

    // Revocation, introspection and device authorization share the parsing.
    for path in ["/revoke", "/introspect", "/device_authorization"] {
        for body in bodies.iter().filter(|b| !b.starts_with(b"grant_type=client_credentials&scope=")) {
            let (status, text, _) = s.send(Method::POST, path, &[form, auth], body.clone()).await;
            // A well-formed request with an unknown token is not an error here (RFC 7009
            // §2.2, RFC 7662 §2.2); everything else must be a 4xx.
            if status.is_success() {
                assert!(path != "/device_authorization", "{path}: {text}");
                assert!(text.is_empty() || text == r#"{"active":false}"#, "{path}: {text}");
            } else {
                assert!(status.is_client_error());
            }
        }
        for b in broken_basics {
            s.json_error(Method::POST, path, &[form, ("authorization", b)], b"token=x".to_vec()).await;
        }
    }

    // Introspection of hostile JWTs: only ever inactive.
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = json!({"iss": t.url, "sub": "x", "aud": t.url, "client_id": client.id, "scope": "profile", "iat": 0, "exp": 9_999_999_999i64, "jti": "j"});
    let kid = t.auth.keys().jwks(t.auth.now()).await.unwrap().keys[0].common.key_id.clone().unwrap();
    let hostile_jwts = [
        format!("{}.{}.", b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})), b64(&claims)),
        format!("{}.{}.c2ln", b64(&json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})), b64(&claims)),
        format!("{}.{}.c2ln", b64(&json!({"alg": "ES256", "typ": "at+jwt", "kid": "foreign"})), b64(&claims)),
        format!("{}.{}", b64(&json!({"alg": "ES256"})), b64(&claims)),
        "a.b.c.d.e".to_owned(),
        ".".repeat(50),
    ];
    for jwt in &hostile_jwts {
        let body = format!("token={}", form_urlencoded::byte_serialize(jwt.as_bytes()).collect::<String>());
        let (status, text, _) = s.send(Method::POST, "/introspect", &[form, auth], body.into_bytes()).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, r#"{"active":false}"#));
    }

    // Registration (JSON) and its management endpoint.
    let reg_bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"{".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"\xff\xfe".to_vec(),
        br#"{"redirect_uris": [1, 2]}"#.to_vec(),
        br#"{"redirect_uris": ["javascript:alert(1)"]}"#.to_vec(),
        br#"{"grant_types": "client_credentials"}"#.to_vec(),
        br#"{"grant_types": ["client_credentials"], "client_name": ""}"#.to_vec(),
        br#"{"grant_types": ["client_credentials"], "scope": "a\"b"}"#.to_vec(),
        br#"{"grant_types": ["client_credentials"], "token_endpoint_auth_method": ["none"]}"#.to_vec(),
        format!(r#"{{"grant_types": ["client_credentials"], "client_name": "{}"}}"#, "x".repeat(300)).into_bytes(),
        vec![b' '; 100_000],
    ];
    for body in &reg_bodies {
        s.json_error(Method::POST, "/register", &[("content-type", "application/json")], body.clone()).await;
    }
    s.json_error(Method::POST, "/register", &[("content-type", "text/plain")], b"{}".to_vec()).await;
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        for token in ["", "Bearer", "Bearer nope", "Basic x"] {
            let headers: Vec<(&str, &str)> = if token.is_empty() {
                vec![("content-type", "application/json")]
            } else {
                vec![("content-type", "application/json"), ("authorization", token)]
            };
            s.json_error(method.clone(), &format!("/register/{}", client.id), &headers, b"{}".to_vec()).await;
        }
    }

    // The pages: authorize, login, consent, device, logout.
    let mut queries: Vec<String> = vec![
        String::new(),
        "client_id=".into(),
        "%zz".into(),
        "client_id=\u{0}".into(),
        format!("client_id={}&client_id={}", client.id, client.id),
        format!("{}&state=a&state=b", authorize_query(&client, &[])),
        format!("client_id={}&redirect_uri=https%3A%2F%2Fevil.example%2Fcb", client.id),
        authorize_query(&public, &[("code_challenge", ""), ("code_challenge_method", "")]),
        authorize_query(&client, &[("response_type", "token id_token")]),
        authorize_query(&client, &[("code_challenge", "x".repeat(5000).as_str())]),
        format!("client_id={}", "c".repeat(20_000)),
    ];
    for inj in INJECTIONS {
        queries.push(authorize_query(&client, &[("scope", inj)]));
        queries.push(authorize_query(&client, &[("redirect_uri", inj)]));
        queries.push(format!("client_id={}", form_urlencoded::byte_serialize(inj.as_bytes()).collect::<String>()));
    }
    for q in &queries {
        s.page_error(Method::GET, &format!("/authorize?{q}"), &[], Vec::new()).await;
    }
    for path in ["/login", "/consent", "/device", "/logout"] {
        for body in bodies.iter().take(12) {
            s.page_error(Method::POST, path, &[form], body.clone()).await;
        }
        s.page_error(Method::POST, path, &[("content-type", "application/json")], b"{}".to_vec()).await;
        s.page_error(Method::PUT, path, &[form], b"a=b".to_vec()).await;
    }
    for q in ["user_code=%zz", "user_code=a&user_code=b", "user_code=<script>"] {
        let (status, _, _) = s.send(Method::GET, &format!("/device?{q}"), &[], Vec::new()).await;
        assert!(status.is_client_error() || status == StatusCode::OK, "login page first");
    }

    let after = dump(&t).await;
    assert_eq!(before, after, "malformed requests changed the database");
    eprintln!(
        "bad-input sweep: {} malformed requests, every one answered with a 4xx (or an inactive introspection)",
        s.sent
    );
    assert!(s.sent > 300, "{}", s.sent);
}

/// A server on the test's AuthServer with a short header timeout.
async fn strict_server(t: &TestServer) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options =
        latchkey_server::ServeOptions { header_read_timeout: std::time::Duration::from_secs(1), ..Default::default() };
    let state = latchkey_server::AppState::new(t.auth.clone()).unwrap();
    tokio::spawn(latchkey_server::serve_with(listener, state, options, std::future::pending()));
    addr
}

/// Sends raw bytes and reads until the server answers or closes; panics if it hangs.
async fn raw(addr: std::net::SocketAddr, bytes: &[u8], pause_before_end: bool) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(bytes).await;
    if !pause_before_end {
        let _ = stream.write_all(b"\r\n").await;
    }
    let mut out = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(8), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the server kept a bad connection open");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn slow_clients_and_oversized_headers_are_cut_off() {
    let t = TestServer::start().await;
    let addr = strict_server(&t).await;
    // Slowloris: headers that never end are dropped after the header timeout.
    let started = std::time::Instant::now();
    let answer = raw(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n", true).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 408"), "{answer}");
    // Too many headers, or one huge header: refused with a 4xx (or the connection closed).
    let many: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let answer =
        raw(addr, format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n").as_bytes(), false).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 4"), "{answer}");
    let huge = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\nConnection: close\r\n", "a".repeat(1_000_000));
    let answer = raw(addr, huge.as_bytes(), false).await;
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 4"), "{}", &answer[..answer.len().min(200)]);
    // A normal request on the same server is fine.
    let answer = raw(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n", false).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn rfc6749_5_2_error_descriptions_never_echo_characters_outside_the_allowed_set() {
    let t = TestServer::start_with(|s| s.registration = RegistrationPolicy::Open).await;
    let client = t.confidential_client().await;
    let public = t.public_client().await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).no_proxy().build().unwrap();
    let mut s = Sweep { t: &t, http, sent: 0 };
    let form = ("content-type", "application/x-www-form-urlencoded");
    let good_basic = basic(&client.id, client.secret.as_deref().unwrap());
    let auth = ("authorization", good_basic.as_str());
    let mut described = 0;
    let mut send = async |s: &mut Sweep<'_>, method: Method, path: &str, headers: &[(&str, &str)], body: Vec<u8>| {
        let (status, text, h) = s.send(method, path, headers, body).await;
        assert!(status.is_client_error() || status.is_success() || status.is_redirection(), "{path}: {status}");
        described += check_descriptions(path, &text, &h);
    };

    // A quote and a non-ASCII letter, a CR/LF, a backslash, control characters.
    for v in ["\"\u{e9}", "a\r\nb", "a\\b", "\u{0}\u{7f}\t", "\u{202e}x"] {
        let e = form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
        let token_bodies = [
            format!("grant_type={e}"),
            format!("grant_type=authorization_code&code={e}&redirect_uri={e}&code_verifier={e}"),
            format!("grant_type=client_credentials&scope={e}"),
            format!("grant_type=refresh_token&refresh_token={e}&scope={e}"),
            format!("grant_type=urn:ietf:params:oauth:grant-type:device_code&device_code={e}"),
            format!("grant_type=client_credentials&{e}=1&{e}=2"),
        ];
        for body in &token_bodies {
            send(&mut s, Method::POST, "/token", &[form, auth], body.clone().into_bytes()).await;
            let as_public = format!("{body}&client_id={}", public.id);
            send(&mut s, Method::POST, "/token", &[form], as_public.into_bytes()).await;
        }
        send(&mut s, Method::POST, "/token", &[form], format!("grant_type={e}&client_id={e}").into_bytes()).await;
        for path in ["/revoke", "/introspect"] {
            for body in
                [format!("token={e}&token_type_hint={e}"), format!("{e}=1&{e}=2"), format!("token_type_hint={e}")]
            {
                send(&mut s, Method::POST, path, &[form, auth], body.into_bytes()).await;
            }
        }
        for body in [
            format!("client_id={}&scope={e}", public.id),
            format!("client_id={e}"),
            format!("client_id={}&{e}=1&{e}=2", public.id),
        ] {
            send(&mut s, Method::POST, "/device_authorization", &[form], body.into_bytes()).await;
        }
        let json = ("content-type", "application/json");
        for body in [
            json!({ "redirect_uris": [v] }),
            json!({ "redirect_uris": [format!("https://app.example/{v}")] }),
            json!({ "grant_types": [v] }),
            json!({ "response_types": [v], "redirect_uris": ["https://app.example/cb"] }),
            json!({ "grant_types": ["client_credentials"], "scope": v }),
            json!({ "grant_types": ["client_credentials"], "scope": format!("profile x{v}") }),
            json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method": v }),
            json!({ "grant_types": ["client_credentials"], "client_name": v }),
        ] {
            send(&mut s, Method::POST, "/register", &[json], body.to_string().into_bytes()).await;
        }
        // Authorization errors redirected to the client (RFC 6749 §4.1.2.1).
        for name in ["response_type", "scope", "code_challenge_method", "code_challenge"] {
            let q = authorize_query(&client, &[(name, v)]);
            send(&mut s, Method::GET, &format!("/authorize?{q}"), &[], Vec::new()).await;
        }
    }
    assert!(described > 100, "only {described} error descriptions seen");
}
