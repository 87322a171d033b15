//! Secret values and their storage form.
//!
//! Every secret the server issues (codes, refresh tokens, client secrets, session ids) is
//! high-entropy, so it is stored and compared as its SHA-256 digest: what was given out
//! once is never readable from the database, and a fast hash keeps the token endpoint
//! fast (a slow KDF is only needed for passwords people choose).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::UnixTime;

/// The form in which a secret is stored: its SHA-256 digest, or for a secret that has a
/// time (a stamped token, a code), that time and then the digest ([`SecretHash::at`]).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(Box<[u8]>);

/// Bytes of the time before the digest: seconds, big-endian, so keys sort by time.
const TIME_BYTES: usize = 6;

/// Random bytes of a stamped token, after its time.
pub const STAMPED_RANDOM_BYTES: usize = 32;

/// Characters of a stamped token after its prefix: base64url, unpadded, of its 38 bytes.
const STAMPED_TEXT_LEN: usize = 51;

impl SecretHash {
    /// Hashes a secret value.
    pub fn of(secret: &str) -> SecretHash {
        SecretHash(Sha256::digest(secret.as_bytes()).as_slice().into())
    }

    /// The key of a secret that has a time: `time`, then the digest. Rows keyed by it are
    /// added where their time puts them, next to the rows of the secrets made just before,
    /// instead of at a random place in the index: a write touches the same few index pages
    /// however many rows the table holds (a digest alone scatters them over all of it).
    pub fn at(time: UnixTime, secret: &str) -> SecretHash {
        let mut key = Vec::with_capacity(TIME_BYTES + 32);
        key.extend_from_slice(&time_bytes(time));
        key.extend_from_slice(&Sha256::digest(secret.as_bytes()));
        SecretHash(key.into())
    }

    /// The key of a token: [`SecretHash::at`] its issue time when it is stamped with one
    /// ([`stamp`]), else its digest. Tokens issued before stamping keep their keys.
    pub fn of_token(token: &str) -> SecretHash {
        match stamped_time(token) {
            Some(time) => SecretHash::at(time, token),
            None => SecretHash::of(token),
        }
    }

    /// Reads a stored digest; `None` if it does not have 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<SecretHash> {
        (bytes.len() == 32).then(|| SecretHash(bytes.into()))
    }

    /// The stored bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Compares in constant time (the digest of an attacker-chosen value against the stored one).
    pub fn ct_eq(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

/// A stamped token's text after `prefix`: base64url of its issue time (as in
/// [`SecretHash::at`]) and then `random`, [`STAMPED_RANDOM_BYTES`] random bytes. The
/// time is not secret (a JWT says as much in `iat`); the random bytes are the secret.
pub fn stamp(prefix: &str, issued_at: UnixTime, random: &[u8; STAMPED_RANDOM_BYTES]) -> String {
    let mut raw = [0u8; TIME_BYTES + STAMPED_RANDOM_BYTES];
    raw[..TIME_BYTES].copy_from_slice(&time_bytes(issued_at));
    raw[TIME_BYTES..].copy_from_slice(random);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(raw))
}

/// The low [`TIME_BYTES`] of `time`, big-endian: they sort as the times do.
fn time_bytes(time: UnixTime) -> [u8; TIME_BYTES] {
    let mut out = [0u8; TIME_BYTES];
    out.copy_from_slice(&time.to_be_bytes()[8 - TIME_BYTES..]);
    out
}

/// The issue time of a token made by [`stamp`] (with a prefix ending in `_`). Any other
/// text is turned away by its length before anything is decoded.
fn stamped_time(token: &str) -> Option<UnixTime> {
    let (_, body) = token.split_once('_')?;
    if body.len() != STAMPED_TEXT_LEN {
        return None;
    }
    let mut raw = [0u8; TIME_BYTES + STAMPED_RANDOM_BYTES];
    if URL_SAFE_NO_PAD.decode_slice(body, &mut raw).ok()? != raw.len() {
        return None;
    }
    let mut time = [0u8; 8];
    time[8 - TIME_BYTES..].copy_from_slice(&raw[..TIME_BYTES]);
    Some(UnixTime::from_be_bytes(time))
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHash(..)")
    }
}

macro_rules! secret_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        ///
        /// No `Display`, no `Serialize`, a redacted `Debug`: [`Self::expose`] is the only way out.
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(Box<str>);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<Box<str>>) -> Self {
                $name(value.into())
            }
            /// The secret text. Every call is a place where a secret leaves its wrapper.
            pub fn expose(&self) -> &str {
                &self.0
            }
            /// The storage form ([`SecretHash::of_token`]).
            pub fn hash(&self) -> SecretHash {
                SecretHash::of_token(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    )*};
}

secret_type! {
    /// RFC 6749 §2.3.1 client password.
    ClientSecret,
    /// RFC 6749 §1.3.1 authorization code.
    AuthorizationCode,
    /// RFC 6749 §1.5 refresh token.
    RefreshToken,
    /// RFC 6749 §1.4 access token.
    AccessToken,
    /// A login session identifier carried in a cookie.
    SessionToken,
    /// A user's password.
    Password,
    /// RFC 8628 §3.2 device verification code.
    DeviceCode,
    /// RFC 7591 initial access token or RFC 7592 registration access token.
    RegistrationToken,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_the_secret() {
        let s = ClientSecret::new("hunter2-very-secret");
        assert_eq!(format!("{s:?}"), "ClientSecret(<redacted>)");
        assert!(!format!("{:?}", s.hash()).contains("hunter2"));
    }

    #[test]
    fn hash_compare() {
        assert!(SecretHash::of("a").ct_eq(&SecretHash::of("a")));
        assert!(!SecretHash::of("a").ct_eq(&SecretHash::of("b")));
        assert!(!SecretHash::of("a").ct_eq(&SecretHash::at(0, "a")));
    }

    #[test]
    fn stamped_tokens_are_keyed_by_their_time_then_digest() {
        let token = stamp("lkr_", 1_700_000_000, &[7; STAMPED_RANDOM_BYTES]);
        assert!(token.starts_with("lkr_"));
        assert_eq!(token.len(), 4 + 51);
        let key = RefreshToken::new(token.clone()).hash();
        assert_eq!(key, SecretHash::at(1_700_000_000, &token));
        assert_eq!(&key.as_bytes()[..6], &1_700_000_000_i64.to_be_bytes()[2..]);
        assert_eq!(&key.as_bytes()[6..], SecretHash::of(&token).as_bytes());
    }

    #[test]
    fn keys_sort_by_time() {
        let earlier = SecretHash::at(1_700_000_000, "zzz");
        let later = SecretHash::at(1_700_000_001, "aaa");
        assert!(earlier.as_bytes() < later.as_bytes());
    }

    #[test]
    fn unstamped_tokens_keep_their_digest() {
        // A token of the earlier layout (32 random bytes), a session id, a client's text.
        for token in ["lkr_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "lkss_abc", "no-underscore", "x_!!!"] {
            assert_eq!(SecretHash::of_token(token), SecretHash::of(token), "{token}");
        }
    }
}
