//! Identifiers: of clients (RFC 6749 §2.2), users, refresh-token families and access
//! tokens (RFC 9068 §2.2 `jti`), and a token's subject (`sub`, RFC 9068 §2.2).
//!
//! One newtype each, so that passing a user id where a client id belongs is a compile
//! error. None of them is a secret: each shows its value in `Debug` and `Display`, and is
//! serialized as the bare string (`#[serde(transparent)]`), so the wire format is that of
//! a `String`.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // `pad`, like `String`'s `Display`: width and alignment apply.
                f.pad(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id! {
    /// RFC 6749 §2.2 client identifier.
    ClientId
}

id! {
    /// A user account's stable identifier: the `sub` of the tokens issued for the user.
    UserId
}

id! {
    /// A refresh-token family: every refresh token rotated from one grant, and the access
    /// tokens issued from them (their `gid`), share it (RFC 9700 §4.14.2).
    FamilyId
}

id! {
    /// RFC 9068 §2.2 `jti`: the unique identifier of an access token.
    Jti
}

id! {
    /// RFC 9068 §2.2 `sub`: the resource owner the token was issued for, or the client
    /// itself when it acts on its own behalf (`client_credentials`). Made from one or the
    /// other ([`Subject::user`], [`Subject::client`]); read back from a token it is just the
    /// text, so which of the two it names is known only by comparing ([`Subject::is_client`]).
    Subject
}

impl Subject {
    /// The subject of a token issued for a resource owner.
    pub fn user(id: &UserId) -> Subject {
        Subject(id.0.clone())
    }

    /// The subject of a token a client got for itself (RFC 9068 §2.2).
    pub fn client(id: &ClientId) -> Subject {
        Subject(id.0.clone())
    }

    /// Whether the token was issued to `client` for itself: its subject is the client.
    pub fn is_client(&self, client: &ClientId) -> bool {
        self.0 == client.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_bare_strings() {
        assert_eq!(serde_json::to_string(&ClientId::from("c-1")).unwrap(), r#""c-1""#);
        assert_eq!(serde_json::from_str::<Jti>(r#""j""#).unwrap(), Jti::from("j"));
        assert_eq!(serde_json::to_string(&Some(FamilyId::from("f"))).unwrap(), r#""f""#);
    }

    #[test]
    fn ids_show_their_value() {
        let id = UserId::from("u-1");
        assert_eq!(format!("{id:?}"), r#"UserId("u-1")"#);
        assert_eq!(id.to_string(), "u-1");
        assert_eq!(format!("[{id:<6}]"), "[u-1   ]");
        assert_eq!(id, "u-1");
    }

    #[test]
    fn rfc9068_2_2_a_subject_is_a_user_or_the_client_itself() {
        let client = ClientId::from("svc");
        assert!(Subject::client(&client).is_client(&client));
        assert!(!Subject::user(&UserId::from("u-1")).is_client(&client));
        assert_eq!(Subject::user(&UserId::from("u-1")).as_str(), "u-1");
    }
}
