//! One grant per file (RFC 6749 §4.1.3, §6, §4.4).

mod authorization_code;
mod client_credentials;
mod refresh_token;
