//! Server-generated secrets: 256 bits from the OS generator, base64url, with a short
//! recognisable prefix (so a leaked value is easy to spot and scan for).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::FlowError;

/// Prefix of authorization codes.
pub const CODE_PREFIX: &str = "lkc_";
/// Prefix of refresh tokens.
pub const REFRESH_PREFIX: &str = "lkr_";
/// Prefix of client secrets.
pub const CLIENT_SECRET_PREFIX: &str = "lks_";
/// Prefix of login session ids.
pub const SESSION_PREFIX: &str = "lkss_";

/// Fills `buf` from the OS generator.
pub fn fill_random(buf: &mut [u8]) -> Result<(), FlowError> {
    getrandom::fill(buf).map_err(|e| FlowError::Crypto(format!("OS random generator: {e}")))
}

/// `bytes` random bytes as base64url.
pub fn random_b64(bytes: usize) -> Result<String, FlowError> {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// A new 256-bit secret with a prefix.
pub fn new_secret(prefix: &str) -> Result<String, FlowError> {
    Ok(format!("{prefix}{}", random_b64(32)?))
}

/// A new identifier (not secret): 128 random bits, base64url. Never starts with `-` or
/// `_`, so it can follow a command-line flag (`--client-id ID`) without being read as one.
pub fn new_id() -> Result<String, FlowError> {
    loop {
        let id = random_b64(16)?;
        if !id.starts_with(['-', '_']) {
            return Ok(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_never_look_like_flags() {
        for _ in 0..2000 {
            assert!(!new_id().unwrap().starts_with(['-', '_']));
        }
    }

    #[test]
    fn secrets_are_long_prefixed_and_distinct() {
        let a = new_secret(CODE_PREFIX).unwrap();
        let b = new_secret(CODE_PREFIX).unwrap();
        assert!(a.starts_with("lkc_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(a, b);
    }
}
