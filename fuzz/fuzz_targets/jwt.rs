//! Bearer token validation in the resource-server library (RFC 6750, RFC 9068): nothing a
//! client sends may panic it. The key source is unreachable, so no fetch succeeds.
#![no_main]
use latchkey_resource::{BearerAuth, BearerConfig};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn auth() -> &'static (tokio::runtime::Runtime, BearerAuth) {
    static AUTH: OnceLock<(tokio::runtime::Runtime, BearerAuth)> = OnceLock::new();
    AUTH.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut config = BearerConfig::new("https://issuer.invalid", "https://api.invalid");
        config.jwks_uri = Some("http://127.0.0.1:9/jwks.json".into());
        let auth = rt.block_on(async { BearerAuth::new(config) });
        (rt, auth)
    })
}

fuzz_target!(|data: &str| {
    let (rt, auth) = auth();
    let _ = rt.block_on(auth.validate(data));
});
