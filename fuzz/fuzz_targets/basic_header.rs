//! The `Authorization: Basic` header (RFC 6749 §2.3.1).
#![no_main]
use latchkey_protocol::client_auth::{basic_header, parse_basic};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    if let Ok((id, secret)) = parse_basic(data) {
        // What parses re-encodes to something that parses to the same pair.
        assert_eq!(parse_basic(&basic_header(&id, &secret)).ok(), Some((id, secret)));
    }
});
