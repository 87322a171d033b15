//! Dynamic client registration metadata (RFC 7591 §2).
#![no_main]
use latchkey_protocol::registration::ClientMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = ClientMetadata::parse(&v);
    }
});
