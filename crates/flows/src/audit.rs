//! The audit trail of security events (logins, consents, token reuse, secret and key
//! rotations). Recording is best effort: a failure is logged, and never fails the request
//! the event belongs to.

use std::net::IpAddr;

use latchkey_store::AuditEvent;

use crate::{AuthServer, FlowError};

/// The kinds of events recorded.
pub mod kind {
    /// A user logged in.
    pub const LOGIN_SUCCEEDED: &str = "login_succeeded";
    /// A login failed (unknown user or wrong password).
    pub const LOGIN_FAILED: &str = "login_failed";
    /// A login was refused because of too many failures.
    pub const LOGIN_THROTTLED: &str = "login_throttled";
    /// A user approved scopes for a client.
    pub const CONSENT_GRANTED: &str = "consent_granted";
    /// A remembered consent was withdrawn.
    pub const CONSENT_REVOKED: &str = "consent_revoked";
    /// A user approved a device.
    pub const DEVICE_APPROVED: &str = "device_approved";
    /// A rotated refresh token was presented again; its family was revoked.
    pub const REFRESH_REUSE: &str = "refresh_reuse_detected";
    /// A used authorization code was presented again; tokens from it were revoked.
    pub const CODE_REPLAY: &str = "code_replay_detected";
    /// A client secret was rotated.
    pub const CLIENT_SECRET_ROTATED: &str = "client_secret_rotated";
    /// A client registered itself (RFC 7591).
    pub const CLIENT_REGISTERED: &str = "client_registered";
    /// A signing key was added.
    pub const KEY_ROTATED: &str = "key_rotated";
    /// A signing key was retired.
    pub const KEY_RETIRED: &str = "key_retired";
    /// An operator set a user's password; the user's refresh families were revoked.
    pub const PASSWORD_CHANGED: &str = "password_changed";
}

/// What an event is about.
#[derive(Debug, Default)]
pub struct Subject<'a> {
    /// Who did it.
    pub actor: Option<&'a str>,
    /// The client concerned.
    pub client_id: Option<&'a str>,
    /// The client address.
    pub address: Option<IpAddr>,
    /// More, in words (never a secret).
    pub detail: Option<String>,
}

impl AuthServer {
    /// Records an event.
    pub async fn audit(&self, kind: &str, s: Subject<'_>) {
        let event = AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at: self.now(),
            kind: kind.to_owned(),
            actor: s.actor.map(str::to_owned),
            client_id: s.client_id.map(str::to_owned),
            address: s.address.map(|a| a.to_string()),
            detail: s.detail,
        };
        if let Err(e) = self.store.insert_audit_event(&event).await {
            tracing::error!(error = %e, kind, "could not record an audit event");
        }
    }

    /// The latest events, newest first.
    pub async fn audit_trail(&self, kind: Option<&str>, limit: i64) -> Result<Vec<AuditEvent>, FlowError> {
        Ok(self.store.audit_events(kind, limit).await?)
    }
}
