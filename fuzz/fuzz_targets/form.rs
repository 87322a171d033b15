//! Form and query parsing (RFC 6749 §3.1), then every request parser built on it.
#![no_main]
use latchkey_protocol::form::Params;
use latchkey_protocol::{Scope, authorize, token};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        let _ = token::TokenRequest::parse(&params);
        let _ = authorize::validate(&params, None, &Scope::default());
        let _ = Params::parse(params.to_query().as_bytes());
    }
});
