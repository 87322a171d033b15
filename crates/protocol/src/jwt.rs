//! JWT access tokens, RFC 9068.

use serde::{Deserialize, Serialize};

use crate::{ClientId, FamilyId, Jti, Scope, Subject};

/// RFC 9068 §2.1: the `typ` header of a JWT access token.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// A JWT whose header does not say it is an access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token is not a JWT access token (typ)")]
pub struct NotAnAccessToken;

/// Checks the `typ` header of a JWT offered as an access token.
///
/// RFC 9068 §4: "Resource servers MUST verify that the typ header value is at+jwt or
/// application/at+jwt and reject tokens carrying any other value." RFC 7515 §4.1.9: `typ`
/// is a media type, compared case-insensitively, with `application/` implied when absent.
/// Every verifier uses this one rule: the resource server and the authorization server
/// checking its own tokens at introspection.
pub fn check_header(typ: Option<&str>) -> Result<(), NotAnAccessToken> {
    let typ = typ.ok_or(NotAnAccessToken)?;
    let subtype = match typ.split_once('/') {
        Some((kind, subtype)) if kind.eq_ignore_ascii_case("application") => subtype,
        Some(_) => return Err(NotAnAccessToken),
        None => typ,
    };
    if subtype.eq_ignore_ascii_case(ACCESS_TOKEN_TYP) { Ok(()) } else { Err(NotAnAccessToken) }
}

/// RFC 9068 §2.2 claims.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessTokenClaims {
    /// Issuer identifier of the authorization server.
    pub iss: String,
    /// The resource owner, or the client itself for `client_credentials` (§2.2).
    pub sub: Subject,
    /// The resource server(s) the token is meant for.
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: ClientId,
    /// Space-delimited granted scope (§2.2.3).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// Expiry, unix seconds.
    pub exp: i64,
    /// Issued at, unix seconds.
    pub iat: i64,
    /// Unique identifier of this token.
    pub jti: Jti,
    /// Latchkey's grant identifier: the refresh-token family the token was issued from, so
    /// that revoking the family (RFC 7009 §2.1) revokes the token at introspection too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<FamilyId>,
}

impl AccessTokenClaims {
    /// The granted scope as a set. Invalid text (never issued by Latchkey) is the empty set.
    pub fn scope(&self) -> Scope {
        Scope::parse(&self.scope).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UserId;
    use proptest::prelude::*;

    #[test]
    fn rfc9068_4_typ_is_at_jwt_or_application_at_jwt() {
        for typ in ["at+jwt", "application/at+jwt", "AT+JWT", "Application/At+Jwt"] {
            assert_eq!(check_header(Some(typ)), Ok(()), "{typ}");
        }
        for typ in ["JWT", "jwt", "at+jws", "application/jwt", "text/at+jwt", "application/at+jwt/x", " at+jwt", ""] {
            assert_eq!(check_header(Some(typ)), Err(NotAnAccessToken), "{typ}");
        }
        assert_eq!(check_header(None), Err(NotAnAccessToken), "no typ at all");
    }

    /// The typed ids serialize as the strings they replaced: a token's claims are the same
    /// bytes as before.
    #[test]
    fn rfc9068_2_2_claims_keep_their_wire_format() {
        let claims = AccessTokenClaims {
            iss: "https://as.example".into(),
            sub: Subject::user(&UserId::from("u-1")),
            aud: "api".into(),
            client_id: "c-1".into(),
            scope: "profile".into(),
            exp: 1_800_000_300,
            iat: 1_800_000_000,
            jti: "j-1".into(),
            gid: Some("f-1".into()),
        };
        let json = serde_json::to_string(&claims).unwrap();
        assert_eq!(
            json,
            r#"{"iss":"https://as.example","sub":"u-1","aud":"api","client_id":"c-1","scope":"profile","exp":1800000300,"iat":1800000000,"jti":"j-1","gid":"f-1"}"#
        );
        assert_eq!(serde_json::from_str::<AccessTokenClaims>(&json).unwrap(), claims);
        let own = AccessTokenClaims { sub: Subject::client(&claims.client_id), gid: None, ..claims };
        assert!(serde_json::to_string(&own).unwrap().contains(r#""sub":"c-1""#));
        assert!(!serde_json::to_string(&own).unwrap().contains("gid"));
    }

    proptest! {
        #[test]
        fn rfc9068_4_typ_check_accepts_only_the_two_spellings(typ in "\\PC{0,24}") {
            let lower = typ.to_ascii_lowercase();
            prop_assert_eq!(check_header(Some(&typ)).is_ok(), lower == "at+jwt" || lower == "application/at+jwt");
        }
    }
}
