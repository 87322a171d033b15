//! Secrets at rest. The installation secrets (`server_secrets`: the key that seals
//! authorization codes, the key that derives refresh-token successors, and any other) and
//! the private parts of the signing keys are stored encrypted with the operator's
//! `key_encryption_secret` when there is one (AES-256-GCM, [`seal_at_rest`], bound to the
//! secret's name or the key's `kid`), so reading the database is not enough to sign tokens,
//! make codes or predict refresh tokens.
//!
//! - A secret stored in plaintext (made before the operator set a secret) is encrypted at
//!   the next start with one ([`seal_plaintext`]): in place, in one transaction.
//! - [`rekey`] re-encrypts everything from one secret to another in one transaction
//!   (`latchkey keys rekey`); a start with a secret that does not open what is stored is
//!   refused, pointing at it.
//!
//! Stored form of an installation secret: a marker byte, then the material as it is
//! ([`PLAIN`]) or sealed ([`ENCRYPTED`]). Every row of `server_secrets` must be read through
//! [`installation_secret`].

use latchkey_protocol::UnixTime;
use latchkey_store::{AtRest, Resealed, Store};

use crate::keys::{open_at_rest, seal_at_rest};
use crate::{FlowError, secrets};

/// The material follows as it is.
const PLAIN: u8 = 0;
/// The material follows sealed with [`seal_at_rest`] under the secret's name.
const ENCRYPTED: u8 = 1;
/// Secrets first stored with no marker: their whole value is the material, in plaintext.
/// (The refresh-successor key was stored as 43 base64url characters, so its first byte is
/// never a marker.)
const UNMARKED: &[&str] = &["refresh_successor_key"];

fn crypto(message: String) -> FlowError {
    FlowError::Crypto(message)
}

/// The stored form of `material`: encrypted when there is an operator's secret.
pub(crate) fn encode(name: &str, material: &[u8], secret: Option<&str>) -> Result<Vec<u8>, FlowError> {
    Ok(match secret {
        Some(secret) => [&[ENCRYPTED][..], &seal_at_rest(secret, name, material)?].concat(),
        None => [&[PLAIN][..], material].concat(),
    })
}

/// The material of a stored secret.
pub(crate) fn decode(name: &str, stored: &[u8], secret: Option<&str>) -> Result<Vec<u8>, FlowError> {
    match stored.split_first() {
        Some((&PLAIN, material)) => Ok(material.to_vec()),
        Some((&ENCRYPTED, sealed)) => {
            let secret = secret.ok_or_else(|| crypto(format!("{name} is encrypted: set key_encryption_secret")))?;
            open_at_rest(secret, name, sealed)
        }
        Some(_) if UNMARKED.contains(&name) => Ok(stored.to_vec()),
        _ => Err(crypto(format!("{name}: unknown stored form"))),
    }
}

/// Whether a stored secret is encrypted (an unmarked one never starts with the marker).
fn is_encrypted(stored: &[u8]) -> bool {
    stored.first() == Some(&ENCRYPTED)
}

/// The installation secret `name` (32 random bytes, made by the first instance that needs
/// it; every instance reads the same).
pub(crate) async fn installation_secret(
    store: &Store,
    name: &str,
    secret: Option<&str>,
    now: UnixTime,
) -> Result<Vec<u8>, FlowError> {
    let mut fresh = [0u8; 32];
    secrets::fill_random(&mut fresh)?;
    let stored = store.server_secret(name, &encode(name, &fresh, secret)?, now).await?;
    decode(name, &stored, secret)
}

/// At a start with the operator's secret: encrypts, in place and in one transaction, every
/// secret still stored in plaintext, after checking that `secret` opens every one already
/// encrypted (if it does not, nothing changes and the start is refused). Returns how many
/// were encrypted.
pub(crate) async fn seal_plaintext(store: &Store, secret: &str) -> Result<usize, FlowError> {
    store
        .reseal_at_rest(|item| match item {
            AtRest::ServerSecret { name, value } => {
                let material = decode(name, value, Some(secret))?;
                if is_encrypted(value) {
                    return Ok(None);
                }
                Ok(Some(Resealed { value: encode(name, &material, Some(secret))?, encrypted: true }))
            }
            AtRest::SigningKey { kid, private_der, encrypted: true } => {
                open_at_rest(secret, kid, private_der)?;
                Ok(None)
            }
            AtRest::SigningKey { kid, private_der, encrypted: false } => {
                Ok(Some(Resealed { value: seal_at_rest(secret, kid, private_der)?, encrypted: true }))
            }
        })
        .await
}

/// `latchkey keys rekey`: re-encrypts every secret at rest from `current` (the
/// `key_encryption_secret` in use, if any) to `new`, in one transaction: all of them or,
/// if `current` does not open one, none. Returns how many were rewritten.
pub async fn rekey(store: &Store, current: Option<&str>, new: &str) -> Result<usize, FlowError> {
    if current == Some(new) {
        return Err(crypto("the new secret is the one in use".into()));
    }
    store
        .reseal_at_rest(|item| match item {
            AtRest::ServerSecret { name, value } => {
                let material = decode(name, value, current)?;
                Ok(Some(Resealed { value: encode(name, &material, Some(new))?, encrypted: true }))
            }
            AtRest::SigningKey { kid, private_der, encrypted } => {
                let der = if encrypted {
                    let current = current.ok_or_else(|| {
                        crypto(format!("key {kid} is encrypted: set key_encryption_secret to the one in use"))
                    })?;
                    open_at_rest(current, kid, private_der)?
                } else {
                    private_der.to_vec()
                };
                Ok(Some(Resealed { value: seal_at_rest(new, kid, &der)?, encrypted: true }))
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installation_secrets_are_sealed_under_their_name_when_a_secret_is_set() {
        let key = [9u8; 32];
        let plain = encode("k", &key, None).unwrap();
        assert_eq!(plain[0], PLAIN);
        assert_eq!(decode("k", &plain, None).unwrap(), key);
        assert_eq!(decode("k", &plain, Some("s3cret")).unwrap(), key, "stored before the secret was set");
        let sealed = encode("k", &key, Some("s3cret")).unwrap();
        assert_eq!((sealed[0], sealed.len()), (ENCRYPTED, 1 + 12 + 32 + 16));
        assert!(!sealed.windows(32).any(|w| w == key));
        assert!(is_encrypted(&sealed) && !is_encrypted(&plain));
        assert_eq!(decode("k", &sealed, Some("s3cret")).unwrap(), key);
        assert!(decode("k", &sealed, None).unwrap_err().to_string().contains("key_encryption_secret"));
        assert!(decode("k", &sealed, Some("wrong")).is_err());
        assert!(decode("other", &sealed, Some("s3cret")).is_err(), "bound to its name");
        assert!(decode("k", &[], None).is_err());
        assert!(decode("k", &[7, 1, 2], None).is_err());
    }

    #[test]
    fn the_refresh_successor_key_stored_without_a_marker_reads_as_plaintext() {
        let legacy = b"yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw-0123456789a";
        assert_eq!(decode("refresh_successor_key", legacy, None).unwrap(), legacy);
        assert_eq!(decode("refresh_successor_key", legacy, Some("s3cret")).unwrap(), legacy);
        assert!(!is_encrypted(legacy));
        let sealed = encode("refresh_successor_key", legacy, Some("s3cret")).unwrap();
        assert!(is_encrypted(&sealed));
        assert_eq!(decode("refresh_successor_key", &sealed, Some("s3cret")).unwrap(), legacy);
    }
}
