//! JWT access tokens already verified against the current key set.
//!
//! A resource server introspects the same token on every call its client makes, and an
//! ES256 verification costs more than the rest of the introspection request (65 µs, see
//! `bench/README.md`). A token that passed verification is remembered, by the SHA-256 of
//! the issuer and the token, with its claims, until it expires. Only tokens that verified
//! are kept, so a forgery cannot fill the cache; it belongs to the loaded key set and is
//! handed on to the next one when the keys are reloaded (every 30 s, on a rotation, on an
//! unknown `kid`) unless a key was withdrawn, when it starts empty; and revocation is
//! still checked on every request, after it.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest::{Context, SHA256};
use latchkey_protocol::UnixTime;
use latchkey_protocol::jwt::AccessTokenClaims;

/// Most tokens kept; past it, the expired ones go, and if that is not enough, all.
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub(crate) struct VerifiedTokens {
    entries: Mutex<HashMap<[u8; 32], AccessTokenClaims>>,
}

/// The cache key of `token` verified for `issuer`.
pub(crate) fn fingerprint(issuer: &str, token: &str) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(issuer.as_bytes());
    ctx.update(&[0]);
    ctx.update(token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

impl VerifiedTokens {
    /// The claims of a token verified before, unless it has expired since.
    pub(crate) fn get(&self, key: &[u8; 32], now: UnixTime) -> Option<AccessTokenClaims> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(key).filter(|c| now < c.exp).cloned()
    }

    /// Remembers a token that passed verification.
    pub(crate) fn put(&self, key: [u8; 32], claims: &AccessTokenClaims, now: UnixTime) {
        if now >= claims.exp {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, c| now < c.exp);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, claims.clone());
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().map(|e| e.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jti: &str, exp: i64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://as.example".into(),
            sub: "u".into(),
            aud: "api".into(),
            client_id: "c".into(),
            scope: "profile".into(),
            exp,
            iat: 0,
            jti: jti.into(),
            gid: None,
        }
    }

    #[test]
    fn a_token_is_remembered_until_it_expires_and_only_for_its_issuer() {
        let cache = VerifiedTokens::default();
        let key = fingerprint("https://as.example", "t1");
        cache.put(key, &claims("j1", 100), 10);
        assert_eq!(cache.get(&key, 99).map(|c| c.jti), Some("j1".into()));
        assert!(cache.get(&key, 100).is_none(), "expired");
        assert!(cache.get(&fingerprint("https://other.example", "t1"), 10).is_none());
        assert!(cache.get(&fingerprint("https://as.example", "t2"), 10).is_none());
        cache.put(fingerprint("https://as.example", "t3"), &claims("j3", 5), 10);
        assert_eq!(cache.len(), 1, "an expired token is not kept");
    }

    #[test]
    fn the_size_is_bounded() {
        let cache = VerifiedTokens::default();
        for i in 0..MAX_ENTRIES + 5 {
            cache.put(fingerprint("i", &i.to_string()), &claims("j", 100), 10);
        }
        assert!(cache.len() <= MAX_ENTRIES);
    }
}
