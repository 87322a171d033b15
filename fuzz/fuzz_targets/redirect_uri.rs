//! Redirect URI checks and matching (RFC 6749 §3.1.2, RFC 8252 §7.3, RFC 9700 §4.1.3).
#![no_main]
use latchkey_protocol::{redirect, registration};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: (&str, &str)| {
    let (registered, requested) = data;
    let _ = redirect::validate_registered(registered);
    let _ = registration::check_redirect_uri(registered);
    if redirect::matches(registered, requested) && !registered.starts_with("http://127.0.0.1") && !registered.starts_with("http://[::1]") {
        assert_eq!(registered, requested, "exact match off loopback");
    }
    let _ = redirect::with_params(registered, &[("code", requested)]);
});
