//! The audit trail of security events (logins, consents, token reuse, secret and key
//! rotations). Recording is best effort: a failure is logged, and never fails the request
//! the event belongs to.
//!
//! Anyone can cause events (a failed login needs no account), so what one stores is
//! bounded: the actor is cut to [`MAX_ACTOR`] characters, the client id to
//! [`MAX_CLIENT_ID`], the detail to [`MAX_DETAIL`] (a cut value ends with `…`); a repeated
//! event (a throttled login) is counted in one row per kind, actor, address and hour
//! ([`AuthServer::audit_repeated`]); and the janitor deletes events older than the
//! `audit_retention` setting.

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
    /// A client was deleted, by the operator or by itself (RFC 7592 §2.3).
    pub const CLIENT_DELETED: &str = "client_deleted";
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

/// The longest actor stored, in characters (a username has at most 64).
pub const MAX_ACTOR: usize = 64;
/// The longest client id stored, in characters.
pub const MAX_CLIENT_ID: usize = 128;
/// The longest detail stored, in characters.
pub const MAX_DETAIL: usize = 512;
/// Repeated events are counted per this many seconds.
pub const AGGREGATE_WINDOW: i64 = 3600;

/// `value` if it has at most `max` characters; otherwise its first `max - 1` characters
/// and `…`, so a cut value is marked and never longer than `max`.
pub fn bounded(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        None => value.to_owned(),
        Some(_) => {
            let end = value.char_indices().nth(max.saturating_sub(1)).map_or(value.len(), |(i, _)| i);
            format!("{}…", &value[..end])
        }
    }
}

impl AuthServer {
    fn audit_event(&self, kind: &str, s: Subject<'_>) -> AuditEvent {
        AuditEvent {
            id: uuid::Uuid::now_v7().to_string(),
            at: self.now(),
            kind: kind.to_owned(),
            actor: s.actor.map(|a| bounded(a, MAX_ACTOR)),
            client_id: s.client_id.map(|c| bounded(c, MAX_CLIENT_ID)),
            address: s.address.map(|a| a.to_string()),
            detail: s.detail.map(|d| bounded(&d, MAX_DETAIL)),
            count: 1,
        }
    }

    /// Records an event.
    pub async fn audit(&self, kind: &str, s: Subject<'_>) {
        let event = self.audit_event(kind, s);
        if let Err(e) = self.store.insert_audit_event(&event).await {
            tracing::error!(error = %e, kind, "could not record an audit event");
        }
    }

    /// Records an event that may repeat many times (a throttled login): one row per kind,
    /// actor, address and hour, whose count goes up with each repetition.
    pub async fn audit_repeated(&self, kind: &str, s: Subject<'_>) {
        let event = self.audit_event(kind, s);
        let key = format!(
            "{kind}|{}|{}|{}",
            event.address.as_deref().unwrap_or("-"),
            event.at.div_euclid(AGGREGATE_WINDOW),
            event.actor.as_deref().unwrap_or("")
        );
        if let Err(e) = self.store.count_audit_event(&event, &key).await {
            tracing::error!(error = %e, kind, "could not record an audit event");
        }
    }

    /// The latest events, newest first.
    pub async fn audit_trail(&self, kind: Option<&str>, limit: i64) -> Result<Vec<AuditEvent>, FlowError> {
        Ok(self.store.audit_events(kind, limit).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_13_long_values_are_cut_on_a_char_boundary_and_marked() {
        assert_eq!(bounded("alice", 64), "alice");
        assert_eq!(bounded(&"a".repeat(64), 64), "a".repeat(64), "at the limit: kept whole");
        let cut = bounded(&"é".repeat(16 * 1024), 64);
        assert_eq!(cut.chars().count(), 64);
        assert!(cut.ends_with('…') && cut.starts_with("éé"));
        assert_eq!(bounded("😀😀😀", 2), "😀…");
    }
}
