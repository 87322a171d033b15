//! Login limits (issue 13, item 7): attempts reserved before the password is checked, a
//! bounded queue of password checks, no lock-out from another address; and the audit
//! rows unauthenticated logins may cause (item 9).

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use latchkey_flows::Clock;
use reqwest::StatusCode;

use crate::harness::*;

/// A browser whose connections come from `ip` (any 127.0.0.0/8 address reaches the server).
fn browser_from(t: &TestServer, ip: Ipv4Addr) -> Browser {
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::V4(ip))
        .no_proxy()
        .build()
        .unwrap();
    Browser { http, base: t.url.clone() }
}

async fn login_page(browser: &Browser) -> String {
    browser.get("/login").await.text().await.unwrap()
}

fn retry_after(res: &reqwest::Response) -> i64 {
    res.headers()["retry-after"].to_str().unwrap().parse().unwrap()
}

/// RFC 6749 §4.3.2's rule for password checks ("MUST protect the endpoint against brute
/// force attacks"): parallel guesses all passed the check of the failure count before any
/// was counted, so every one got its password checked. Now each reserves its attempt first.
#[tokio::test]
async fn issue_13_parallel_wrong_logins_check_at_most_the_limit() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let browser = t.browser();
    let page = login_page(&browser).await;
    let csrf = field(&page, "csrf").unwrap();
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (http, url, csrf) = (browser.http.clone(), format!("{}/login", t.url), csrf.clone());
        tasks.push(tokio::spawn(async move {
            let form = [("csrf", csrf.as_str()), ("username", "alice"), ("password", "wrong password")];
            http.post(url).form(&form).send().await.unwrap().status()
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let throttled = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((checked, throttled), (5, 15), "{statuses:?}");
    let failed = t.auth.audit_trail(Some("login_failed"), 100).await.unwrap();
    assert_eq!(failed.len(), 5, "passwords checked");
}

/// A full queue of password checks answers at once, 503 with `Retry-After` (RFC 9110
/// §15.6.4), and checks nothing; the attempt is not counted against the user.
#[tokio::test]
async fn issue_13_a_full_hashing_queue_answers_503_with_retry_after() {
    let t = TestServer::start_with(|s| s.password_hash_queue = Some(2)).await;
    let browser = t.browser();
    let page = login_page(&browser).await;
    let csrf = field(&page, "csrf").unwrap();
    let hold = t.auth.hold_password_hashing().await.unwrap();
    let mut queued = Vec::new();
    for user in ["u0", "u1"] {
        let (http, url, csrf) = (browser.http.clone(), format!("{}/login", t.url), csrf.clone());
        queued.push(tokio::spawn(async move {
            let form = [("csrf", csrf.as_str()), ("username", user), ("password", "wrong password")];
            http.post(url).form(&form).send().await.unwrap().status()
        }));
    }
    let started = Instant::now();
    while t.auth.password_checks_waiting() < 2 {
        assert!(started.elapsed() < Duration::from_secs(30), "the two logins never queued");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let res = browser.login(&page, "u2", "wrong password").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&res), 1);
    assert!(res.text().await.unwrap().contains("The server is busy"));
    let now = t.clock.now();
    let counted = t.store.login_failures("user-ip:u2|127.0.0.1", now).await.unwrap();
    assert_eq!(counted.map_or(0, |c| c.0), 0, "a refused attempt gives its reservation back");
    drop(hold);
    for task in queued {
        assert_eq!(task.await.unwrap(), StatusCode::UNAUTHORIZED, "the queued ones are answered");
    }
    let failed = t.auth.audit_trail(Some("login_failed"), 10).await.unwrap();
    let actors: Vec<_> = failed.iter().filter_map(|e| e.actor.as_deref()).collect();
    assert!(!actors.contains(&"u2") && actors.len() == 2, "{actors:?}");
}

/// Counting failures by account alone let anyone lock any user out from another address.
/// The hard limit is per account and address; per account there is only a delay, capped.
#[tokio::test]
async fn issue_13_guesses_from_other_addresses_never_lock_the_right_password_out() {
    let t = TestServer::start().await;
    t.user("alice").await;
    let attacker = browser_from(&t, Ipv4Addr::new(127, 0, 0, 2));
    let page = login_page(&attacker).await;
    for _ in 0..5 {
        assert_eq!(attacker.login(&page, "alice", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    }
    // That address is done for the window, even with the right password.
    let res = attacker.login(&page, "alice", PASSWORD).await;
    assert_eq!((res.status(), retry_after(&res)), (StatusCode::TOO_MANY_REQUESTS, 900));

    // From other addresses the attacker gets no more than one guess per delay, and the
    // delay stops growing at 60 s.
    let mut longest = 0;
    for last in [3, 4, 5] {
        let other = browser_from(&t, Ipv4Addr::new(127, 0, 0, last));
        let page = login_page(&other).await;
        let mut guesses = 0;
        for _ in 0..20 {
            let res = other.login(&page, "alice", "wrong password").await;
            match res.status() {
                StatusCode::UNAUTHORIZED => guesses += 1,
                StatusCode::TOO_MANY_REQUESTS if retry_after(&res) <= 60 => {
                    longest = longest.max(retry_after(&res));
                    t.clock.advance(retry_after(&res));
                }
                StatusCode::TOO_MANY_REQUESTS => break, // this address's own limit
                other => panic!("{other}"),
            }
        }
        assert_eq!(guesses, 5, "five guesses per address");
    }
    assert_eq!(longest, 60, "the delay grew to its cap");

    // Alice, from her own address, waits at most that long, and is let in.
    let alice = t.browser();
    let page = login_page(&alice).await;
    let res = alice.login(&page, "alice", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&res);
    assert!((1..=60).contains(&wait), "{wait}");
    assert!(res.text().await.unwrap().contains(&format!("Try again in {wait} second")));
    t.clock.advance(wait);
    assert_eq!(alice.login(&page, "alice", PASSWORD).await.status(), StatusCode::SEE_OTHER);
}

/// Throttled attempts are counted in one audit row per actor, address and hour, not a
/// row each; `latchkey audit` shows the count.
#[tokio::test]
async fn issue_13_throttled_logins_are_counted_in_one_audit_row() {
    let t = TestServer::start().await;
    let browser = t.browser();
    let page = login_page(&browser).await;
    for _ in 0..5 {
        assert_eq!(browser.login(&page, "mallory", "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    }
    for _ in 0..100 {
        assert_eq!(browser.login(&page, "mallory", "wrong password").await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let throttled = t.auth.audit_trail(Some("login_throttled"), 100).await.unwrap();
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    assert_eq!(throttled[0].count, 100);
    assert_eq!(throttled[0].actor.as_deref(), Some("mallory"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["--database-url", &t.db_url, "audit", "--kind", "login_throttled"])
        .env("LATCHKEY_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("count=100"), "{}", String::from_utf8_lossy(&out.stdout));
}

/// A username of 16 KiB is stored cut to 64 characters, marked as cut, in the audit trail,
/// and as a short key in the failure counters.
#[tokio::test]
async fn issue_13_a_16_kib_username_is_stored_cut() {
    let t = TestServer::start().await;
    let browser = t.browser();
    let page = login_page(&browser).await;
    let huge = "x".repeat(16_000);
    assert_eq!(browser.login(&page, &huge, "wrong password").await.status(), StatusCode::UNAUTHORIZED);
    let failed = t.auth.audit_trail(Some("login_failed"), 10).await.unwrap();
    let actor = failed[0].actor.as_deref().unwrap();
    assert_eq!(actor.chars().count(), 64);
    assert!(actor.starts_with("xx") && actor.ends_with('…'), "{actor}");
    let pool = sqlx::SqlitePool::connect(&t.db_url).await.unwrap();
    let (longest,): (i64,) =
        sqlx::query_as("SELECT MAX(LENGTH(key)) FROM login_failures").fetch_one(&pool).await.unwrap();
    pool.close().await;
    assert!(longest < 100, "{longest}");
}

/// The janitor deletes audit events older than `audit_retention` and keeps newer ones.
#[tokio::test]
async fn issue_13_the_janitor_purges_audit_events_past_retention() {
    let t = TestServer::start_with(|s| s.audit_retention = 1000).await;
    let browser = t.browser();
    let page = login_page(&browser).await;
    browser.login(&page, "old", "wrong password").await;
    t.clock.advance(1001);
    browser.login(&page, "new", "wrong password").await;
    let purged = t.auth.housekeeping().await.unwrap();
    assert!(purged.rows.contains(&("audit_events", 1)), "{purged:?}");
    let left = t.auth.audit_trail(Some("login_failed"), 10).await.unwrap();
    assert_eq!(left.iter().filter_map(|e| e.actor.as_deref()).collect::<Vec<_>>(), ["new"]);
}

/// An address past its limit is refused before anything is written for the username it
/// tries: spraying fresh usernames from it adds no counter rows and one audit row per
/// window, so refusals cost the store nothing per request.
#[tokio::test]
async fn issue_13_an_address_past_its_limit_writes_nothing_per_username() {
    let t = TestServer::start_with(|s| s.login_limits.per_address = 3).await;
    let browser = t.browser();
    let page = login_page(&browser).await;
    for i in 0..3 {
        let status = browser.login(&page, &format!("guess{i}"), "wrong password").await.status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let pool = sqlx::SqlitePool::connect(&t.db_url).await.unwrap();
    let rows = || async { sqlx::query_as::<_, (i64,)>("SELECT COUNT(*) FROM login_failures").fetch_one(&pool).await };
    let (before,) = rows().await.unwrap();
    for i in 0..50 {
        let status = browser.login(&page, &format!("spray{i}"), "wrong password").await.status();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
    let (after,) = rows().await.unwrap();
    pool.close().await;
    assert_eq!(after, before, "no counter rows for refused usernames");
    let throttled = t.auth.audit_trail(Some("login_throttled"), 100).await.unwrap();
    assert_eq!(throttled.len(), 1, "{throttled:?}");
    assert_eq!(throttled[0].count, 50);
    assert_eq!(throttled[0].actor, None);
}
