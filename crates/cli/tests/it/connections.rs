//! Connections that never complete a request: closed after the header timeout whatever
//! they sent (RFC 9112 §9.5, RFC 9113 §9.1), capped in number, and normal requests are
//! answered while they are open.

use std::net::SocketAddr;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::TestServer;

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// An empty SETTINGS frame (RFC 9113 §6.5): length 0, type 4, no flags, stream 0.
const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// A server on the test's AuthServer with the given limits.
async fn server(t: &TestServer, header_read_timeout: Duration, max_client_connections: usize) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = latchkey_server::ServeOptions {
        header_read_timeout,
        max_client_connections,
        shutdown_grace: Duration::from_secs(1),
    };
    let state = latchkey_server::AppState::new(t.auth.clone()).unwrap();
    tokio::spawn(latchkey_server::serve_with(listener, state, options, std::future::pending()));
    addr
}

/// Connects and sends `bytes` (maybe none), leaving the connection open.
async fn open(addr: SocketAddr, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    if !bytes.is_empty() {
        stream.write_all(bytes).await.unwrap();
    }
    stream
}

/// What the server sent on `stream` (a response, HTTP/2 frames) before it closed it;
/// `None` if it was still open after `limit`.
async fn read_until_closed(mut stream: TcpStream, limit: Duration) -> Option<Vec<u8>> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read_to_end).await.ok()?;
    Some(received)
}

/// The frames in `bytes` (RFC 9113 §4.1), as (type, stream, payload).
fn h2_frames(mut bytes: &[u8]) -> Vec<(u8, u32, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 9 {
        let len = usize::from(bytes[0]) << 16 | usize::from(bytes[1]) << 8 | usize::from(bytes[2]);
        let stream = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) & 0x7fff_ffff;
        let end = (9 + len).min(bytes.len());
        frames.push((bytes[3], stream, bytes[9..end].to_vec()));
        bytes = &bytes[end..];
    }
    frames
}

/// Whether the server still holds `stream` open (bytes it sent do not count as closing).
fn still_open(stream: &TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e) => return e.kind() == std::io::ErrorKind::WouldBlock,
        }
    }
}

/// Waits, concurrently, for every stream to be closed within `limit`; returns how many were.
async fn count_closed(streams: Vec<TcpStream>, limit: Duration) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for stream in streams {
        tasks.spawn(read_until_closed(stream, limit));
    }
    let mut closed = 0;
    while let Some(done) = tasks.join_next().await {
        closed += usize::from(done.unwrap().is_some());
    }
    closed
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().pool_max_idle_per_host(0).build().unwrap()
}

/// GET /healthz (HTTP/1.1), POST /token client_credentials, and GET /healthz over HTTP/2.
async fn normal_requests_are_answered(addr: SocketAddr, client: &crate::harness::TestClient) {
    let base = format!("http://{addr}");
    let res = http().get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = http()
        .post(format!("{base}/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    let h2 = reqwest::Client::builder().no_proxy().http2_prior_knowledge().build().unwrap();
    let res = h2.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!((res.status(), res.version()), (StatusCode::OK, reqwest::Version::HTTP_2));
}

#[tokio::test]
async fn rfc9112_9_5_connections_without_a_complete_request_head_are_closed_after_the_header_timeout() {
    let t = TestServer::start().await;
    let addr = server(&t, Duration::from_secs(1), 1000).await;
    let streams = vec![
        // Nothing at all: the protocol is never known.
        open(addr, b"").await,
        // A partial HTTP/1 request line.
        open(addr, b"GET /healthz HT").await,
        // The start of the HTTP/2 preface: still undecided between HTTP/1 and HTTP/2.
        open(addr, b"PRI * HTTP/2.0\r\n").await,
    ];
    // A keep-alive HTTP/1 connection, idle after its request was answered.
    let keep_alive = open(addr, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let n = streams.len();
    assert_eq!(count_closed(streams, Duration::from_secs(8)).await, n, "a connection was kept open");
    let answer = read_until_closed(keep_alive, Duration::from_secs(8))
        .await
        .expect("an idle keep-alive connection was kept open");
    assert!(answer.starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

#[tokio::test]
async fn rfc9113_9_1_a_bare_http2_preface_is_closed_after_the_header_timeout() {
    let t = TestServer::start().await;
    let client = t.confidential_client().await;
    let addr = server(&t, Duration::from_secs(1), 1000).await;
    // A request over HTTP/2, for the idle case below: HEADERS (RFC 9113 §6.2, END_STREAM |
    // END_HEADERS, stream 1) for GET http://x/healthz, HPACK (RFC 7541 Appendix A).
    let mut request = [H2_PREFACE, H2_SETTINGS].concat();
    let block: Vec<u8> = [&[0x82, 0x86][..], &[0x04, 8], b"/healthz", &[0x01, 1], b"x"].concat();
    request.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x05, 0, 0, 0, 1]);
    request.extend_from_slice(&block);
    let streams = vec![open(addr, H2_PREFACE).await, open(addr, &[H2_PREFACE, H2_SETTINGS].concat()).await];
    let answered = open(addr, &request).await;
    // Meanwhile HTTP/2 clients are served as before.
    normal_requests_are_answered(addr, &client).await;
    let n = streams.len();
    assert_eq!(count_closed(streams, Duration::from_secs(8)).await, n, "an HTTP/2 connection was kept open");
    // The one that sent a request got its answer (HEADERS on stream 1, `:status 200` being
    // HPACK static index 8), then, idle, a GOAWAY (RFC 9113 §6.8) and the end.
    let received =
        read_until_closed(answered, Duration::from_secs(8)).await.expect("an idle HTTP/2 connection was kept open");
    let frames = h2_frames(&received);
    assert!(
        frames.iter().any(|(kind, stream, payload)| (*kind, *stream, payload.first()) == (1, 1, Some(&0x88))),
        "{frames:?}"
    );
    assert!(frames.iter().any(|(kind, _, _)| *kind == 7), "{frames:?}");
}

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
#[cfg(unix)]
fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit and setrlimit only read and write the struct passed.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
            assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        }
    }
    limit.rlim_cur
}

#[cfg(unix)]
#[tokio::test]
async fn rfc9112_9_5_thousands_of_idle_connections_are_closed_and_capped_while_requests_are_answered() {
    // Each idle connection costs two descriptors in this process (the test's end and the
    // server's); keep 1,024 for everything else.
    let n = 2000.min((raise_fd_limit().saturating_sub(1024) / 2) as usize);
    assert!(n >= 500, "raise the open-file limit (ulimit -n) to at least 2,048 for this test");
    let t = TestServer::start().await;
    let client = t.confidential_client().await;

    // 1. Under the cap: silent, partial and HTTP/2-preface sockets, all held open.
    let timeout = Duration::from_secs(8);
    let addr = server(&t, timeout, n + 100).await;
    let mut idle = Vec::with_capacity(n);
    for i in 0..n {
        let bytes: &[u8] = match i % 3 {
            0 => b"",
            1 => b"POST /token HTTP/1.1\r\nHost: x\r\n",
            _ => H2_PREFACE,
        };
        idle.push(open(addr, bytes).await);
    }
    normal_requests_are_answered(addr, &client).await;
    let open_now = idle.iter().filter(|s| still_open(s)).count();
    assert_eq!(open_now, n, "the idle sockets were not all open while the requests ran (machine too slow?)");
    assert_eq!(count_closed(idle, timeout + Duration::from_secs(15)).await, n, "idle sockets were kept open");
    normal_requests_are_answered(addr, &client).await;

    // 2. At the cap: a long header timeout, so only the cap can close anything here.
    let cap = 100;
    let addr = server(&t, Duration::from_secs(60), cap).await;
    let mut held = Vec::with_capacity(cap);
    for _ in 0..cap {
        held.push(open(addr, b"").await);
    }
    let mut beyond = Vec::with_capacity(400);
    for _ in 0..400 {
        beyond.push(open(addr, b"").await);
    }
    assert_eq!(count_closed(beyond, Duration::from_secs(10)).await, 400, "connections beyond the cap were kept");
    assert!(http().get(format!("http://{addr}/healthz")).send().await.is_err(), "a connection beyond the cap");
    assert_eq!(held.iter().filter(|s| still_open(s)).count(), cap, "connections under the cap were closed");
    // Their slots are given back when they go.
    drop(held);
    let mut answered = false;
    for _ in 0..100 {
        if http().get(format!("http://{addr}/healthz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "the slots of closed connections were not given back");
}
