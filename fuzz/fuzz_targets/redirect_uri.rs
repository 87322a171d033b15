//! Redirect URI checks and matching (RFC 6749 §3.1.2, RFC 8252 §7.3, RFC 9700 §4.1.3).
#![no_main]
use latchkey_protocol::redirect::{self, RegisteredBy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str)| {
    let (registered, requested) = data;
    let by_client = redirect::check_registered(registered, RegisteredBy::Client).is_ok();
    let by_operator = redirect::check_registered(registered, RegisteredBy::Operator).is_ok();
    assert!(by_operator || !by_client, "the operator may register all a client may");
    if redirect::matches(registered, requested) && !registered.starts_with("http://127.0.0.1") && !registered.starts_with("http://[::1]") {
        assert_eq!(registered, requested, "exact match off loopback");
    }
    let _ = redirect::with_params(registered, &[("code", requested)]);
});
