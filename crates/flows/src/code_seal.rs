//! Sealed authorization codes (RFC 6749 §4.1.2). A code carries its own binding (client,
//! user, redirect URI, scope, PKCE challenge, expiry), encrypted and authenticated with
//! AES-256-GCM-SIV under a key every instance shares, so issuing a code writes nothing and
//! redeeming one reads nothing: its single use is the one conditional insert of its digest
//! (`Store::consume_code`).
//!
//! Format: `lkc_` + base64url(version ‖ nonce ‖ ciphertext ‖ tag), about 300 characters
//! (§4.1.2: "The authorization server SHOULD document the size of any value it issues").
//! Nobody without the key can read a code's binding or make a code that opens: a guess
//! must forge a 128-bit tag (§10.10). GCM-SIV with random 96-bit nonces stays safe far
//! beyond the number of codes a server issues under one key.
//!
//! The key is an installation secret (`server_secrets`), encrypted with the operator's
//! `key_encryption_secret` when there is one, like the signing keys: reading the database
//! must not be enough to make codes, as it is not enough to sign tokens.

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey_protocol::pkce::CodeChallenge;
use latchkey_protocol::secret::AuthorizationCode;
use latchkey_protocol::token::CodeGrant;
use latchkey_protocol::{ClientId, Scope, UnixTime, UserId};
use latchkey_store::Store;
use serde::{Deserialize, Serialize};

use crate::{FlowError, at_rest, secrets};

/// The installation secret holding the key.
const KEY_NAME: &str = "code_sealing_key";
/// The format version, first byte of every sealed code and part of what is authenticated.
/// Version 2 codes are recorded, once redeemed, under their expiry and digest
/// ([`latchkey_protocol::secret::SecretHash::at`]); version 1 codes were recorded under
/// their digest alone, so they no longer open: one redeemed before an upgrade could
/// otherwise be redeemed again after it.
const VERSION: u8 = 2;
const TAG_LEN: usize = 16;

/// The binding inside a code. It travels in a URL, so on the wire its fields have
/// one-letter names; they are part of the format (codes sealed before must still open).
#[derive(Serialize, Deserialize)]
struct Binding {
    #[serde(rename = "c")]
    client_id: ClientId,
    #[serde(rename = "u")]
    user_id: UserId,
    #[serde(rename = "r")]
    redirect_uri: String,
    #[serde(rename = "g")]
    redirect_uri_given: bool,
    #[serde(rename = "s")]
    scope: String,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    code_challenge: Option<String>,
    #[serde(rename = "e")]
    expires_at: UnixTime,
}

/// Seals and opens authorization codes.
pub(crate) struct CodeSeal {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for CodeSeal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CodeSeal(..)")
    }
}

impl CodeSeal {
    /// The installation's code key, created by the first instance that needs one.
    pub(crate) async fn load(
        store: &Store,
        encryption_secret: Option<&str>,
        now: UnixTime,
    ) -> Result<CodeSeal, FlowError> {
        CodeSeal::with_key(&at_rest::installation_secret(store, KEY_NAME, encryption_secret, now).await?)
    }

    fn with_key(key: &[u8]) -> Result<CodeSeal, FlowError> {
        let key = RandomizedNonceKey::new(&AES_256_GCM_SIV, key)
            .map_err(|_| FlowError::Crypto(format!("{KEY_NAME}: not a 256-bit key")))?;
        Ok(CodeSeal { key })
    }

    /// A new code carrying `grant`.
    pub(crate) fn seal(&self, grant: &CodeGrant) -> Result<AuthorizationCode, FlowError> {
        let mut data = serde_json::to_vec(&Binding::of(grant)).map_err(|e| FlowError::Crypto(e.to_string()))?;
        let nonce = self
            .key
            .seal_in_place_append_tag(aad(), &mut data)
            .map_err(|_| FlowError::Crypto("sealing a code failed".into()))?;
        let sealed = [&[VERSION][..], nonce.as_ref(), &data].concat();
        Ok(AuthorizationCode::new(format!("{}{}", secrets::CODE_PREFIX, URL_SAFE_NO_PAD.encode(sealed))))
    }

    /// The grant `code` carries, if this installation sealed it (unaltered). One code has
    /// one spelling (the decoder refuses non-canonical base64), so its digest names it.
    pub(crate) fn open(&self, code: &AuthorizationCode) -> Option<CodeGrant> {
        let body = code.expose().strip_prefix(secrets::CODE_PREFIX)?;
        let sealed = URL_SAFE_NO_PAD.decode(body).ok()?;
        let (&version, rest) = sealed.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN + TAG_LEN {
            return None;
        }
        let (nonce, data) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self.key.open_in_place(nonce, aad(), &mut data).ok()?;
        serde_json::from_slice::<Binding>(plain).ok()?.into_grant()
    }
}

impl Binding {
    fn of(grant: &CodeGrant) -> Binding {
        Binding {
            client_id: grant.client_id.clone(),
            user_id: grant.user_id.clone(),
            redirect_uri: grant.redirect_uri.clone(),
            redirect_uri_given: grant.redirect_uri_given,
            scope: grant.scope.to_string(),
            code_challenge: grant.code_challenge.as_ref().map(|c| c.as_str().to_owned()),
            expires_at: grant.expires_at,
        }
    }

    fn into_grant(self) -> Option<CodeGrant> {
        Some(CodeGrant {
            client_id: self.client_id,
            user_id: self.user_id,
            redirect_uri: self.redirect_uri,
            redirect_uri_given: self.redirect_uri_given,
            scope: Scope::parse(&self.scope).ok()?,
            code_challenge: self.code_challenge.map(CodeChallenge::from_stored),
            expires_at: self.expires_at,
        })
    }
}

/// What every code authenticates beside its binding: what it is, and its format.
fn aad() -> Aad<[u8; 5]> {
    Aad::from([b'l', b'k', b'c', b'_', VERSION])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant() -> CodeGrant {
        CodeGrant {
            client_id: "client-1".into(),
            user_id: "user-1".into(),
            redirect_uri: "https://app.example/cb?x=1".into(),
            redirect_uri_given: true,
            scope: Scope::from_tokens(["openid", "profile"]),
            code_challenge: Some(CodeChallenge::s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")),
            expires_at: 1_800_000_060,
        }
    }

    fn seal() -> CodeSeal {
        CodeSeal::with_key(&[7u8; 32]).unwrap()
    }

    fn same(a: &CodeGrant, b: &CodeGrant) -> bool {
        (&a.client_id, &a.user_id, &a.redirect_uri, a.redirect_uri_given, a.scope.to_string(), a.expires_at)
            == (&b.client_id, &b.user_id, &b.redirect_uri, b.redirect_uri_given, b.scope.to_string(), b.expires_at)
            && a.code_challenge.as_ref().map(|c| c.as_str()) == b.code_challenge.as_ref().map(|c| c.as_str())
    }

    #[test]
    fn rfc6749_4_1_2_a_code_opens_to_the_grant_it_was_sealed_with() {
        let s = seal();
        for g in [grant(), CodeGrant { code_challenge: None, redirect_uri_given: false, ..grant() }] {
            let code = s.seal(&g).unwrap();
            assert!(code.expose().starts_with("lkc_"));
            assert!(code.expose().len() < 400, "{}", code.expose().len());
            assert!(same(&s.open(&code).unwrap(), &g));
        }
    }

    #[test]
    fn each_code_is_distinct_and_its_binding_unreadable() {
        let s = seal();
        let (a, b) = (s.seal(&grant()).unwrap(), s.seal(&grant()).unwrap());
        assert_ne!(a.expose(), b.expose());
        let raw = URL_SAFE_NO_PAD.decode(&a.expose()[4..]).unwrap();
        assert!(!raw.windows(6).any(|w| w == b"user-1"));
    }

    #[test]
    fn rfc6749_10_10_an_altered_or_foreign_code_does_not_open() {
        let s = seal();
        let code = s.seal(&grant()).unwrap();
        let text = code.expose();
        // Every single-character change of the body.
        for i in 4..text.len() {
            let mut altered = text.as_bytes().to_vec();
            altered[i] = if altered[i] == b'A' { b'B' } else { b'A' };
            let altered = AuthorizationCode::new(String::from_utf8(altered).unwrap());
            assert!(s.open(&altered).is_none(), "position {i}");
        }
        let other = CodeSeal::with_key(&[8u8; 32]).unwrap();
        assert!(other.open(&code).is_none());
        for bad in ["", "lkc_", "lkc_AAAA", "lkx_", &text[..text.len() - 1], &format!("{text}A"), &text[4..]] {
            assert!(s.open(&AuthorizationCode::new(bad)).is_none(), "{bad}");
        }
    }

    /// Version 1 codes were recorded under another key once redeemed: one redeemed before
    /// an upgrade must not open (and be redeemed again) after it.
    #[test]
    fn rfc6749_4_1_2_a_code_of_the_previous_format_does_not_open() {
        let s = seal();
        let mut data = br#"{"c":"client-1","u":"user-1","r":"https://app.example/cb","g":true,"s":"openid","p":null,"e":1800000060}"#.to_vec();
        let nonce = s.key.seal_in_place_append_tag(Aad::from([b'l', b'k', b'c', b'_', 1]), &mut data).unwrap();
        let v1 = [&[1u8][..], nonce.as_ref(), &data].concat();
        let code = AuthorizationCode::new(format!("lkc_{}", URL_SAFE_NO_PAD.encode(v1)));
        assert!(s.open(&code).is_none());
    }

    /// The binding's wire names are part of the format: renaming the fields in the code
    /// must not change what a code carries.
    #[test]
    fn rfc6749_4_1_2_the_binding_keeps_its_wire_format() {
        let json = serde_json::to_string(&Binding::of(&grant())).unwrap();
        assert_eq!(
            json,
            r#"{"c":"client-1","u":"user-1","r":"https://app.example/cb?x=1","g":true,"s":"openid profile","p":"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM","e":1800000060}"#
        );
        let plain = serde_json::to_string(&Binding::of(&CodeGrant { code_challenge: None, ..grant() })).unwrap();
        assert_eq!(
            plain,
            r#"{"c":"client-1","u":"user-1","r":"https://app.example/cb?x=1","g":true,"s":"openid profile","e":1800000060}"#
        );
        let b: Binding = serde_json::from_str(&json).unwrap();
        assert!(same(&b.into_grant().unwrap(), &grant()));
    }

    #[test]
    fn only_256_bit_keys_seal_codes() {
        assert!(CodeSeal::with_key(&[1u8; 16]).is_err());
    }

    #[test]
    fn a_code_has_one_spelling() {
        // The last base64url character of a body whose length is not a multiple of 3
        // carries unused bits; setting them must not give a second valid spelling (and a
        // second digest) of the same code.
        let s = seal();
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        // Bindings of three lengths: every remainder modulo 3.
        for n in 1..=3 {
            let code = s.seal(&CodeGrant { user_id: "u".repeat(n).into(), ..grant() }).unwrap();
            let text = code.expose();
            let last = text.len() - 1;
            let opened = alphabet
                .iter()
                .filter(|&&c| {
                    let mut t = text.as_bytes().to_vec();
                    t[last] = c;
                    s.open(&AuthorizationCode::new(String::from_utf8(t).unwrap())).is_some()
                })
                .count();
            assert_eq!(opened, 1);
        }
    }
}
