//! OAuth 2.0 rules and wire types with no I/O and no clock.
//!
//! Everything here is a pure function of its inputs: callers pass the current time
//! (`now`, unix seconds) and whatever they loaded from storage. The rules cite the RFC
//! section they come from (RFC 6749, 6750, 7591, 7636, 8252, 8414, 8628, 9068, 9700).
#![warn(missing_docs)]

pub mod authorize;
pub mod client;
pub mod client_auth;
pub mod device;
pub mod error;
pub mod form;
pub mod ids;
pub mod introspection;
pub mod jwt;
pub mod metadata;
pub mod pkce;
pub mod redirect;
pub mod registration;
pub mod scope;
pub mod secret;
pub mod token;

pub use error::{ErrorCode, OAuthError};
pub use ids::{ClientId, FamilyId, Jti, Subject, UserId};
pub use scope::Scope;

/// Seconds since the Unix epoch, UTC. The protocol crate never reads the clock.
pub type UnixTime = i64;
