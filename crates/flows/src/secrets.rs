//! Server-generated secrets: 256 bits from the OS generator, base64url, with a short
//! recognisable prefix (so a leaked value is easy to spot and scan for).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use latchkey_protocol::secret::{STAMPED_RANDOM_BYTES, stamp};

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

/// A new token stamped with its issue time (`now`): 256 random bits after it, with a
/// prefix. Stored under [`SecretHash::at`] its time, so the rows of tokens issued in turn
/// sit side by side (see [`latchkey_protocol::secret::stamp`]).
///
/// [`SecretHash::at`]: latchkey_protocol::secret::SecretHash::at
pub fn new_stamped_secret(prefix: &str, now: i64) -> Result<String, FlowError> {
    let mut random = [0u8; STAMPED_RANDOM_BYTES];
    fill_random(&mut random)?;
    Ok(stamp(prefix, now, &random))
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

/// A new identifier (not secret) that sorts by creation time: 48 bits of milliseconds
/// since the Unix epoch, then 80 random bits, as 32 hex digits (the layout of a version 7
/// UUID, RFC 9562 §5.7). Rows keyed by it are added at the end of their index instead of
/// at a random place in it, so a write touches the same few pages however large the table.
pub fn new_ordered_id() -> Result<String, FlowError> {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&(millis as u64).to_be_bytes()[2..]);
    fill_random(&mut bytes[6..])?;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    Ok(bytes
        .iter()
        .flat_map(|b| [char::from(HEX[usize::from(b >> 4)]), char::from(HEX[usize::from(b & 15)])])
        .collect())
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
    fn ordered_ids_sort_by_creation_time() {
        let a = new_ordered_id().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = new_ordered_id().unwrap();
        assert!(a < b, "{a} then {b}");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(new_ordered_id().unwrap(), new_ordered_id().unwrap());
    }

    #[test]
    fn stamped_secrets_carry_their_time_in_their_key() {
        let token = new_stamped_secret(REFRESH_PREFIX, 1_700_000_000).unwrap();
        assert!(token.starts_with("lkr_"));
        assert_eq!(token.len(), 4 + 51);
        let key = latchkey_protocol::secret::SecretHash::of_token(&token);
        assert_eq!(key, latchkey_protocol::secret::SecretHash::at(1_700_000_000, &token));
        assert_ne!(token, new_stamped_secret(REFRESH_PREFIX, 1_700_000_000).unwrap());
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
