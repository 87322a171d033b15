//! Attempt limits, audit events and housekeeping (RFC 8628 §5.1, issue 13).

use std::sync::Arc;

use latchkey_protocol::secret::SecretHash;

use super::{refresh, seed};
use crate::{AttemptLimit, AuditEvent, PurgeBefore, Reservation, Session, Store};

/// The janitor deletes expired rows only, in bounded batches, and says when it stopped
/// at its limit.
pub async fn housekeeping_deletes_only_expired_rows_in_batches(store: &Store) {
    let (c, u) = seed(store).await;
    for i in 0..25 {
        // 20 expired at 100, 5 live until 9000.
        let expires = if i < 20 { 100 } else { 9000 };
        assert!(
            store
                .consume_code(&SecretHash::of(&format!("code{i}")), &u.id, expires, &format!("f{i}").into(), None)
                .await
                .unwrap()
        );
        let mut rt = refresh(&format!("rt{i}"), &format!("fam{i}"), &c, &u);
        rt.grant.expires_at = expires;
        store.insert_refresh_token(&rt).await.unwrap();
        store
            .insert_session(
                &SecretHash::of(&format!("s{i}")),
                &Session { user_id: u.id.clone(), created_at: 1, expires_at: expires },
            )
            .await
            .unwrap();
    }
    // Batches of 3, at most 2 per table in a run: 6 rows per table per run.
    let run = store.purge_expired(PurgeBefore { expired_before: 200, audit_before: 0 }, 3, 2).await.unwrap();
    assert!(run.ran);
    assert_eq!(run.total(), 18);
    assert!(run.unfinished, "stopped at its limit with expired rows left");
    let mut total = run.total();
    while total < 60 {
        let run = store.purge_expired(PurgeBefore { expired_before: 200, audit_before: 0 }, 3, 2).await.unwrap();
        assert!(run.total() > 0, "progress every run");
        total += run.total();
        assert_eq!(run.unfinished, total < 60, "after {total} rows");
    }
    let last = store.purge_expired(PurgeBefore { expired_before: 200, audit_before: 0 }, 3, 2).await.unwrap();
    assert_eq!((last.total(), last.unfinished), (0, false));
    for i in 0..25 {
        let live = i >= 20;
        assert_eq!(store.code_consumed(&SecretHash::of(&format!("code{i}"))).await.unwrap(), live);
        assert_eq!(store.refresh_token(&SecretHash::of(&format!("rt{i}"))).await.unwrap().is_some(), live);
        assert_eq!(store.session_user(&SecretHash::of(&format!("s{i}")), 150).await.unwrap().is_some(), live);
    }
}

/// Login failures are counted per key within a window, concurrent ones included.
pub async fn login_failures_count_in_windows(store: &Store) {
    assert!(store.login_failures("user:alice", 100).await.unwrap().is_none());
    for _ in 0..3 {
        store.record_login_failure("user:alice", 100, 60).await.unwrap();
    }
    assert_eq!(store.login_failures("user:alice", 120).await.unwrap(), Some((3, 160)));
    assert!(store.login_failures("user:alice", 160).await.unwrap().is_none(), "the window ended");
    store.record_login_failure("user:alice", 170, 60).await.unwrap();
    assert_eq!(store.login_failures("user:alice", 171).await.unwrap(), Some((1, 230)), "a new window");
    store.clear_login_failures("user:alice").await.unwrap();
    assert!(store.login_failures("user:alice", 171).await.unwrap().is_none());
    // Concurrent failures all count.
    let store2 = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = store2.clone();
            tokio::spawn(async move { s.record_login_failure("ip:1.2.3.4", 500, 60).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.login_failures("ip:1.2.3.4", 501).await.unwrap().map(|f| f.0), Some(10));
}

/// Wrong user-code guesses are counted per key within a window, atomically (RFC 8628 §5.1).
pub async fn rfc8628_5_1_user_code_guesses_counted_atomically_in_windows(store: &Store) {
    let count = |now| store.count_user_code_guess("user:alice", now, 60, 3);
    for n in 1..=3 {
        let c = count(100).await.unwrap();
        assert_eq!((c.guesses, c.within_limit, c.window_ends), (n, true, 160));
    }
    let c = count(120).await.unwrap();
    assert_eq!((c.guesses, c.within_limit, c.window_ends), (4, false, 160), "past the limit");
    // A right code is taken back, within its window only.
    store.forgive_user_code_guess("user:alice", 121).await.unwrap();
    assert_eq!(count(122).await.unwrap().guesses, 4);
    let c = count(160).await.unwrap();
    assert_eq!((c.guesses, c.within_limit, c.window_ends), (1, true, 220), "a new window");
    store.forgive_user_code_guess("user:alice", 161).await.unwrap();
    store.forgive_user_code_guess("user:alice", 161).await.unwrap();
    assert_eq!(count(162).await.unwrap().guesses, 1, "never below zero");
    assert_eq!(store.count_user_code_guess("user:bob", 162, 60, 3).await.unwrap().guesses, 1, "per key");
    // Concurrent guesses all count, and exactly `limit` of them are within it.
    let store2 = Arc::new(store.clone());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store2.clone();
            tokio::spawn(async move { s.count_user_code_guess("user:carol", 500, 60, 10).await.unwrap() })
        })
        .collect();
    let mut within = 0;
    for t in tasks {
        within += usize::from(t.await.unwrap().within_limit);
    }
    assert_eq!(within, 10);
    assert_eq!(store.count_user_code_guess("user:carol", 501, 60, 10).await.unwrap().guesses, 21);
    // The janitor removes ended windows.
    let run = store.purge_expired(PurgeBefore { expired_before: 600, audit_before: 0 }, 100, 1).await.unwrap();
    assert!(run.rows.contains(&("user_code_guesses", 3)), "{run:?}");
}

/// Audit events are listed newest first, optionally of one kind.
pub async fn audit_events_are_listed_newest_first(store: &Store) {
    for (i, kind) in ["login_failed", "login_succeeded", "login_failed"].iter().enumerate() {
        let e = AuditEvent {
            id: format!("e{i}"),
            at: 100 + i as i64,
            kind: (*kind).into(),
            actor: Some("alice".into()),
            client_id: None,
            address: Some("127.0.0.1".into()),
            detail: None,
            count: 1,
        };
        store.insert_audit_event(&e).await.unwrap();
    }
    let all = store.audit_events(None, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["e2", "e1", "e0"]);
    let failed = store.audit_events(Some("login_failed"), 1).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, "e2");
}

/// Of concurrent login attempts, exactly the limit are reserved (issue 13).
pub async fn issue_13_login_attempts_reserved_within_the_limit_under_race(store: &Store) {
    let store2 = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let s = store2.clone();
            tokio::spawn(
                async move { s.reserve_login_attempt("acct:alice@1.2.3.4", 100, 60, AttemptLimit::Hard(5)).await },
            )
        })
        .collect();
    let mut reserved = Vec::new();
    for t in tasks {
        match t.await.unwrap().unwrap() {
            Reservation::Reserved { count, window_ends } => {
                assert_eq!(window_ends, 160);
                reserved.push(count);
            }
            Reservation::Refused { retry_at } => assert_eq!(retry_at, 160, "the window's end"),
        }
    }
    reserved.sort_unstable();
    assert_eq!(reserved, [1, 2, 3, 4, 5], "exactly the limit, each counted once");
    assert_eq!(store.login_failures("acct:alice@1.2.3.4", 101).await.unwrap(), Some((5, 160)), "refusals not counted");
    // A released reservation (a success) makes room for one more; not one of another window.
    store.release_login_attempt("acct:alice@1.2.3.4", 160).await.unwrap();
    store.release_login_attempt("acct:alice@1.2.3.4", 999).await.unwrap();
    let again = store.reserve_login_attempt("acct:alice@1.2.3.4", 110, 60, AttemptLimit::Hard(5)).await.unwrap();
    assert_eq!(again, Reservation::Reserved { count: 5, window_ends: 160 });
    let full = store.reserve_login_attempt("acct:alice@1.2.3.4", 110, 60, AttemptLimit::Hard(5)).await.unwrap();
    assert_eq!(full, Reservation::Refused { retry_at: 160 });
    // The window ends: a new one starts with this attempt.
    let next = store.reserve_login_attempt("acct:alice@1.2.3.4", 160, 60, AttemptLimit::Hard(5)).await.unwrap();
    assert_eq!(next, Reservation::Reserved { count: 1, window_ends: 220 });
}

/// An account's attempts past the free ones are delayed, never locked (issue 13).
pub async fn issue_13_account_attempts_are_delayed_never_locked(store: &Store) {
    let limit = AttemptLimit::Delay { free: 3, max_delay: 8 };
    let key = "acct:bob";
    let reserve = |now| store.reserve_login_attempt(key, now, 1000, limit);
    // Three at once; the third makes the next wait 2 s, then 4, then 8 (the longest).
    for n in 1..=3 {
        assert_eq!(reserve(100).await.unwrap(), Reservation::Reserved { count: n, window_ends: 1100 });
    }
    assert_eq!(reserve(101).await.unwrap(), Reservation::Refused { retry_at: 102 });
    assert_eq!(reserve(102).await.unwrap(), Reservation::Reserved { count: 4, window_ends: 1100 });
    assert_eq!(reserve(105).await.unwrap(), Reservation::Refused { retry_at: 106 }, "refusals do not push it back");
    assert_eq!(reserve(106).await.unwrap(), Reservation::Reserved { count: 5, window_ends: 1100 });
    assert_eq!(reserve(113).await.unwrap(), Reservation::Refused { retry_at: 114 });
    assert_eq!(reserve(114).await.unwrap(), Reservation::Reserved { count: 6, window_ends: 1100 });
    assert_eq!(reserve(121).await.unwrap(), Reservation::Refused { retry_at: 122 }, "capped at 8 s");
    // Of concurrent attempts once the wait is over, one goes ahead.
    let store2 = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let s = store2.clone();
            tokio::spawn(async move { s.reserve_login_attempt(key, 200, 1000, limit).await.unwrap() })
        })
        .collect();
    let mut through = 0;
    for t in tasks {
        through += usize::from(matches!(t.await.unwrap(), Reservation::Reserved { .. }));
    }
    assert_eq!(through, 1);
    // A new window starts over.
    assert_eq!(reserve(1100).await.unwrap(), Reservation::Reserved { count: 1, window_ends: 2100 });
    assert_eq!(reserve(1100).await.unwrap(), Reservation::Reserved { count: 2, window_ends: 2100 });
}

fn audit_event(id: &str, at: i64, kind: &str) -> AuditEvent {
    AuditEvent {
        id: id.into(),
        at,
        kind: kind.into(),
        actor: Some("alice".into()),
        client_id: None,
        address: Some("10.0.0.1".into()),
        detail: None,
        count: 1,
    }
}

/// Concurrent audit events of one key are counted in one row (issue 13).
pub async fn issue_13_audit_events_counted_per_key_under_race(store: &Store) {
    let store2 = std::sync::Arc::new(store.clone());
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let s = store2.clone();
            tokio::spawn(async move {
                s.count_audit_event(&audit_event(&format!("t{i:02}"), 100 + i, "login_throttled"), "k1").await.unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    store.count_audit_event(&audit_event("other", 200, "login_throttled"), "k2").await.unwrap();
    let all = store.audit_events(Some("login_throttled"), 10).await.unwrap();
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!((all[0].id.as_str(), all[0].count), ("other", 1));
    assert_eq!(all[1].count, 30, "every one counted, in one row");
}

/// Audit events past their retention are purged in batches (issue 13).
pub async fn issue_13_audit_events_purged_after_retention_in_batches(store: &Store) {
    for i in 0..7 {
        store.insert_audit_event(&audit_event(&format!("old{i}"), 100 + i, "login_failed")).await.unwrap();
    }
    store.insert_audit_event(&audit_event("new", 9000, "login_failed")).await.unwrap();
    let before = PurgeBefore { expired_before: 0, audit_before: 200 };
    let run = store.purge_expired(before, 3, 2).await.unwrap();
    assert_eq!((run.total(), run.unfinished), (6, true));
    let run = store.purge_expired(before, 3, 2).await.unwrap();
    assert_eq!((run.total(), run.unfinished), (1, false));
    let left = store.audit_events(None, 10).await.unwrap();
    assert_eq!(left.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), ["new"], "recent events are kept");
}
