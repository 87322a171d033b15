//! Proof Key for Code Exchange, RFC 7636 (required as RFC 9700 §2.1.1 recommends).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::OAuthError;

/// §4.1: `unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"`, 43 to 128 characters.
fn is_verifier_text(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A validated S256 code challenge (§4.2): BASE64URL(SHA256(verifier)), 43 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    /// Parses `code_challenge` and `code_challenge_method` from an authorization request.
    ///
    /// §4.3: the method defaults to `plain` when absent; Latchkey supports only `S256`
    /// (RFC 9700 §2.1.1: "SHOULD use S256"), so `plain` — stated or defaulted — is refused.
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<CodeChallenge, OAuthError> {
        match method {
            Some("S256") => {}
            Some("plain") | None => {
                return Err(OAuthError::invalid_request("code_challenge_method must be S256; plain is not supported"));
            }
            Some(_) => {
                return Err(OAuthError::invalid_request("unsupported code_challenge_method"));
            }
        }
        let ok =
            challenge.len() == 43 && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(OAuthError::invalid_request("code_challenge is not a base64url SHA-256 digest"));
        }
        Ok(CodeChallenge(challenge.to_owned()))
    }

    /// The challenge text, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Builds the challenge of a verifier (clients and tests).
    pub fn s256(verifier: &str) -> CodeChallenge {
        CodeChallenge(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
    }

    /// Restores a challenge read from storage (already validated when stored).
    pub fn from_stored(s: String) -> CodeChallenge {
        CodeChallenge(s)
    }
}

/// §4.6: the server "verifies it by calculating the code challenge from the received
/// code_verifier and comparing it with the previously associated code_challenge".
/// A verifier without a challenge, or a challenge without a verifier, fails too
/// (RFC 9700 §2.1.1: servers MUST prevent PKCE downgrade).
pub fn verify(challenge: Option<&CodeChallenge>, verifier: Option<&str>) -> Result<(), OAuthError> {
    match (challenge, verifier) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(OAuthError::invalid_grant("code_verifier is required")),
        (None, Some(_)) => Err(OAuthError::invalid_grant("code_verifier sent but no code_challenge was used")),
        (Some(c), Some(v)) => {
            if !is_verifier_text(v) {
                return Err(OAuthError::invalid_grant("code_verifier is malformed (RFC 7636 §4.1)"));
            }
            let computed = CodeChallenge::s256(v);
            if computed.0.as_bytes().ct_eq(c.0.as_bytes()).into() {
                Ok(())
            } else {
                Err(OAuthError::invalid_grant("code_verifier does not match the code_challenge"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    #[test]
    fn rfc7636_appendix_b_example() {
        assert_eq!(CodeChallenge::s256(VERIFIER).as_str(), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let c = CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256")).unwrap();
        assert!(verify(Some(&c), Some(VERIFIER)).is_ok());
    }

    #[test]
    fn rfc7636_4_3_plain_and_default_method_refused() {
        assert!(CodeChallenge::parse(VERIFIER, Some("plain")).is_err());
        assert!(CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", None).is_err());
    }

    #[test]
    fn rfc9700_2_1_1_pkce_downgrade_refused() {
        let c = CodeChallenge::s256(VERIFIER);
        assert!(verify(Some(&c), None).is_err());
        assert!(verify(None, Some(VERIFIER)).is_err());
    }

    #[test]
    fn rfc7636_4_6_wrong_verifier_is_invalid_grant() {
        let c = CodeChallenge::s256(VERIFIER);
        let e = verify(Some(&c), Some(&"a".repeat(43))).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidGrant);
        assert!(verify(Some(&c), Some("short")).is_err());
    }

    proptest! {
        #[test]
        fn rfc7636_4_1_valid_verifiers_verify(v in "[A-Za-z0-9._~-]{43,128}") {
            prop_assert!(verify(Some(&CodeChallenge::s256(&v)), Some(&v)).is_ok());
        }

        #[test]
        fn rfc7636_4_2_challenge_parser_never_panics(c in "\\PC*", m in proptest::option::of("\\PC*")) {
            let _ = CodeChallenge::parse(&c, m.as_deref());
        }
    }
}
