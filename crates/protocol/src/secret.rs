//! Secret values and their storage form.
//!
//! Every secret the server issues (codes, refresh tokens, client secrets, session ids) is
//! high-entropy, so it is stored and compared as its SHA-256 digest: what was given out
//! once is never readable from the database, and a fast hash keeps the token endpoint
//! fast (a slow KDF is only needed for passwords people choose).

use std::fmt;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 digest of a secret: the only form in which secrets are stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SecretHash(pub [u8; 32]);

impl SecretHash {
    /// Hashes a secret value.
    pub fn of(secret: &str) -> SecretHash {
        SecretHash(Sha256::digest(secret.as_bytes()).into())
    }

    /// Reads a stored digest; `None` if it does not have 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<SecretHash> {
        bytes.try_into().ok().map(SecretHash)
    }

    /// The digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Compares in constant time (the digest of an attacker-chosen value against the stored one).
    pub fn ct_eq(&self, other: &SecretHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
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
            /// The storage form.
            pub fn hash(&self) -> SecretHash {
                SecretHash::of(&self.0)
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
    }
}
