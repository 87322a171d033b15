//! Scopes, RFC 6749 §3.3.

use std::collections::BTreeSet;
use std::fmt;

use crate::OAuthError;

/// A set of scope tokens. Order and duplicates carry no meaning (§3.3), so it is a set;
/// it prints sorted, space-delimited.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Scope(BTreeSet<String>);

/// §3.3: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )`.
fn is_scope_char(c: char) -> bool {
    matches!(c, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E')
}

impl Scope {
    /// Parses a space-delimited scope list (§3.3). An empty string is the empty set.
    pub fn parse(text: &str) -> Result<Scope, OAuthError> {
        let mut set = BTreeSet::new();
        for token in text.split(' ') {
            if token.is_empty() {
                // "list of space-delimited" strings: tolerate doubled spaces, nothing else.
                continue;
            }
            if !token.chars().all(is_scope_char) {
                return Err(OAuthError::invalid_scope("scope contains a character outside RFC 6749 §3.3"));
            }
            set.insert(token.to_owned());
        }
        Ok(Scope(set))
    }

    /// A scope from tokens already known to be valid (configuration, storage).
    pub fn from_tokens<I: IntoIterator<Item = S>, S: Into<String>>(tokens: I) -> Scope {
        Scope(tokens.into_iter().map(Into::into).collect())
    }

    /// True when every token of `self` is in `other`.
    pub fn is_subset(&self, other: &Scope) -> bool {
        self.0.is_subset(&other.0)
    }

    /// True when the token is in the set.
    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    /// True for the empty set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tokens, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The union of two sets.
    pub fn union(&self, other: &Scope) -> Scope {
        Scope(self.0.union(&other.0).cloned().collect())
    }

    /// The tokens in both sets.
    pub fn intersection(&self, other: &Scope) -> Scope {
        Scope(self.0.intersection(&other.0).cloned().collect())
    }

    /// The tokens of `self` that are not in `other`.
    pub fn difference(&self, other: &Scope) -> Scope {
        Scope(self.0.difference(&other.0).cloned().collect())
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for token in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(token)?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::btree_set;
    use proptest::prelude::*;

    #[test]
    fn rfc6749_3_3_scope_is_space_delimited_and_unordered() {
        assert_eq!(Scope::parse("b a").unwrap(), Scope::parse("a b a").unwrap());
        assert_eq!(Scope::parse("b a").unwrap().to_string(), "a b");
    }

    #[test]
    fn rfc6749_3_3_scope_rejects_quote_and_backslash() {
        assert!(Scope::parse("a\"b").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("caf\u{e9}").is_err());
    }

    proptest! {
        #[test]
        fn rfc6749_3_3_scope_parser_never_panics(input in "\\PC*") {
            let _ = Scope::parse(&input);
        }

        #[test]
        fn rfc6749_3_3_scope_round_trips(tokens in btree_set("[!#-\\[\\]-~]{1,16}", 1..8)) {
            let text = tokens.into_iter().collect::<Vec<_>>().join(" ");
            prop_assert_eq!(Scope::parse(&text).unwrap().to_string(), text);
        }
    }
}
