//! Resource owner login and login sessions.
//!
//! Guessing is limited by three counters in the store, shared by every instance, each
//! reserved *before* the password is checked (one conditional write that counts the
//! attempt and says whether it is within the limit), so parallel attempts can never get
//! more passwords checked than the limits allow:
//!
//! - per client address (an IPv6 address counted as its /64): at most `per_address`
//!   failures a window, across usernames; reserved first;
//! - per username and client address: at most `per_user` failures a window (a hard
//!   limit; the failures are forgotten when that user logs in from that address);
//! - per username from any address: after `per_user` failures in a window, each further
//!   attempt waits 2, 4, 8, … seconds after the previous one, at most
//!   [`ACCOUNT_MAX_DELAY`]. Never a lock-out: someone guessing from other addresses can
//!   delay the right password by at most that much per attempt, not refuse it for the
//!   window.
//!
//! A successful login gives its reservations back, as does an attempt stopped before its
//! password was checked (a refusal by a later counter, a full hashing queue, an outage).
//! An attempt whose request went away while it waited stays counted.

use std::net::IpAddr;
use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine;
use latchkey_protocol::secret::{Password, SessionToken};
use latchkey_store::{AttemptLimit, Reservation, Session, StoreError, User};
use sha2::Digest;

use crate::audit::{Subject, kind};
use crate::hashing::HashingError;
use crate::{AuthServer, FlowError, secrets};

/// The longest wait between two attempts on one username from any address, seconds.
pub const ACCOUNT_MAX_DELAY: i64 = 60;

/// Seconds a login refused because the hashing queue is full is asked to wait.
pub const BUSY_RETRY_AFTER: i64 = 1;

/// The longest username there can be (as `latchkey users add` checks it).
const MAX_USERNAME: usize = 64;

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown username or wrong password: the same answer for both.
    #[error("wrong username or password")]
    BadCredentials,
    /// Too many failed attempts for this username or address; retry after this many seconds.
    #[error("too many failed attempts")]
    Throttled {
        /// Seconds until the window ends.
        retry_after: i64,
    },
    /// Too many password checks are waiting already; nothing was checked. Retry after
    /// this many seconds.
    #[error("the server is busy")]
    Busy {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// An outage.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

impl From<StoreError> for LoginError {
    fn from(e: StoreError) -> Self {
        LoginError::Flow(e.into())
    }
}

/// A hash to verify against when the username is unknown, so the answer takes as long as
/// for a known user and does not reveal which usernames exist.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        Argon2::default().hash_password(b"latchkey-dummy-password").map(|h| h.to_string()).unwrap_or_default()
    })
}

/// The counter key of a username: itself in lower case, or its digest when it is longer
/// than any username can be (keys stay small whatever is submitted).
fn account_key(username: &str) -> String {
    let lower = username.to_lowercase();
    if lower.len() <= MAX_USERNAME * 4 {
        lower
    } else {
        format!("sha256:{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(lower)))
    }
}

/// What a login counter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Counter {
    /// Failures of one username from one client network.
    Pair,
    /// Failures from one client network, across usernames.
    Address,
    /// Failures of one username from anywhere.
    Account,
}

/// The network an address is counted as: an IPv4 address itself (also when written as an
/// IPv4-mapped IPv6 address), an IPv6 address as its /64, the smallest network one host
/// is given (RFC 6177 §2) — otherwise one host could use a fresh address for every guess.
fn counted_network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
    }
}

/// The counter key of a client network.
fn network_key(ip: IpAddr) -> String {
    match counted_network(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("{v6}/64"),
    }
}

/// The counters an attempt reserves, in order: the address first, so that an address
/// past its limit is refused before anything is written for the username it tried.
fn attempt_counters(
    username: &str,
    client_ip: Option<IpAddr>,
    per_user: i64,
    per_address: i64,
) -> Vec<(Counter, String, AttemptLimit)> {
    let account = account_key(username);
    let network = client_ip.map(network_key);
    let mut counters = Vec::with_capacity(3);
    if let Some(network) = &network {
        counters.push((Counter::Address, format!("ip:{network}"), AttemptLimit::Hard(per_address)));
    }
    let pair = format!("user-ip:{account}|{}", network.as_deref().unwrap_or("-"));
    counters.push((Counter::Pair, pair, AttemptLimit::Hard(per_user)));
    counters.push((
        Counter::Account,
        format!("user:{account}"),
        AttemptLimit::Delay { free: per_user, max_delay: ACCOUNT_MAX_DELAY },
    ));
    counters
}

impl AuthServer {
    /// Checks a username and password; on success starts a session and returns its token.
    ///
    /// The attempt is reserved first on every counter (see the module documentation);
    /// past a limit the password is not checked, and the answer says when to retry.
    pub async fn login(
        &self,
        username: &str,
        password: &Password,
        client_ip: Option<IpAddr>,
    ) -> Result<(SessionToken, User), LoginError> {
        let now = self.now();
        let limits = &self.settings.login_limits;
        let counters = attempt_counters(username, client_ip, limits.per_user, limits.per_address);
        let mut reserved: Vec<(Counter, &str, i64)> = Vec::with_capacity(counters.len());
        for (counter, key, limit) in &counters {
            match self.store.reserve_login_attempt(key, now, limits.window, *limit).await {
                Ok(Reservation::Reserved { window_ends, .. }) => reserved.push((*counter, key, window_ends)),
                Ok(Reservation::Refused { retry_at }) => {
                    self.release_login_attempts(&reserved).await;
                    // A network past its limit is recorded once per window, whatever
                    // usernames it tries, so refusals cost the store nothing per request.
                    let subject = match counter {
                        Counter::Address => Subject { address: client_ip.map(counted_network), ..Subject::default() },
                        _ => Subject { actor: Some(username), address: client_ip, ..Subject::default() },
                    };
                    self.audit_repeated(kind::LOGIN_THROTTLED, subject).await;
                    metrics::counter!("latchkey_login_failures_total", "reason" => "throttled").increment(1);
                    return Err(LoginError::Throttled { retry_after: retry_at - now });
                }
                Err(e) => {
                    self.release_login_attempts(&reserved).await;
                    return Err(e.into());
                }
            }
        }
        let user = match self.verify_login(username, password).await {
            Ok(user) => user,
            Err(e) => {
                // Nothing was checked: the attempt does not count.
                self.release_login_attempts(&reserved).await;
                return Err(e);
            }
        };
        let Some(user) = user else {
            self.audit(kind::LOGIN_FAILED, Subject { actor: Some(username), address: client_ip, ..Subject::default() })
                .await;
            metrics::counter!("latchkey_login_failures_total", "reason" => "bad_credentials").increment(1);
            return Err(LoginError::BadCredentials);
        };
        // The failures of this user from this address are forgotten; the other counters
        // only get this attempt back.
        let (pair, others): (Vec<_>, Vec<_>) = reserved.into_iter().partition(|(c, ..)| *c == Counter::Pair);
        for (_, key, _) in pair {
            self.store.clear_login_failures(key).await?;
        }
        self.release_login_attempts(&others).await;
        let token = SessionToken::new(secrets::new_secret(secrets::SESSION_PREFIX).map_err(LoginError::Flow)?);
        let session =
            Session { user_id: user.id.clone(), created_at: now, expires_at: now + self.settings.session_ttl };
        self.store.insert_session(&token.hash(), &session).await?;
        self.audit(
            kind::LOGIN_SUCCEEDED,
            Subject { actor: Some(&user.username), address: client_ip, ..Subject::default() },
        )
        .await;
        Ok((token, user))
    }

    /// The user if `password` is theirs. An unknown username is checked against a dummy
    /// hash, so the answer takes as long as for a known user; one longer than any username
    /// can be is not checked at all.
    async fn verify_login(&self, username: &str, password: &Password) -> Result<Option<User>, LoginError> {
        if username.chars().count() > MAX_USERNAME {
            return Ok(None);
        }
        let user = self.store.user_by_name(username).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let password = password.clone();
        let verified = self
            .hashing
            .run(move || {
                let hash: &str = match &hash {
                    Some(h) => h,
                    None => dummy_hash(),
                };
                Argon2::default().verify_password(password.expose().as_bytes(), hash).is_ok()
            })
            .await;
        match verified {
            Ok(ok) => Ok(user.filter(|_| ok)),
            Err(HashingError::Busy) => {
                metrics::counter!("latchkey_login_failures_total", "reason" => "busy").increment(1);
                Err(LoginError::Busy { retry_after: BUSY_RETRY_AFTER })
            }
            Err(HashingError::Failed(e)) => Err(e.into()),
        }
    }

    /// Gives back reservations of attempts that did not count (best effort: a reservation
    /// that cannot be given back stays counted, which errs on the safe side).
    async fn release_login_attempts(&self, reserved: &[(Counter, &str, i64)]) {
        for (_, key, window_ends) in reserved {
            if let Err(e) = self.store.release_login_attempt(key, *window_ends).await {
                tracing::warn!(error = %e, "could not give back a login attempt");
            }
        }
    }

    /// The user logged in with this session token, if the session is live.
    pub async fn session_user(&self, token: &SessionToken) -> Result<Option<User>, FlowError> {
        Ok(self.store.session_user(&token.hash(), self.now()).await?)
    }

    /// Ends a session.
    pub async fn logout(&self, token: &SessionToken) -> Result<(), FlowError> {
        Ok(self.store.delete_session(&token.hash()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_ipv6_host_is_counted_as_its_64_so_fresh_addresses_do_not_reset_the_limit() {
        assert_eq!(network_key(ip("2001:db8:1:2:aaaa::1")), "2001:db8:1:2::/64");
        assert_eq!(network_key(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")), "2001:db8:1:2::/64");
        assert_ne!(network_key(ip("2001:db8:1:3::1")), network_key(ip("2001:db8:1:2::1")));
    }

    #[test]
    fn an_ipv4_mapped_address_is_counted_as_the_ipv4_address() {
        assert_eq!(network_key(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(network_key(ip("192.0.2.7")), "192.0.2.7");
    }

    #[test]
    fn the_address_is_reserved_before_anything_is_written_for_the_username() {
        let counters = attempt_counters("Alice", Some(ip("2001:db8::5")), 5, 50);
        let kinds: Vec<Counter> = counters.iter().map(|(c, ..)| *c).collect();
        assert_eq!(kinds, [Counter::Address, Counter::Pair, Counter::Account]);
        assert_eq!(counters[0].1, "ip:2001:db8::/64");
        assert_eq!(counters[1].1, "user-ip:alice|2001:db8::/64");
        let without_address = attempt_counters("alice", None, 5, 50);
        let kinds: Vec<Counter> = without_address.iter().map(|(c, ..)| *c).collect();
        assert_eq!(kinds, [Counter::Pair, Counter::Account]);
    }
}
