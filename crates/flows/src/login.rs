//! Resource owner login and login sessions.

use std::net::IpAddr;
use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use latchkey_protocol::secret::{Password, SessionToken};
use latchkey_store::{Session, StoreError, User};

use crate::audit::{Subject, kind};
use crate::{AuthServer, FlowError, secrets};

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

impl AuthServer {
    /// Checks a username and password; on success starts a session and returns its token.
    ///
    /// Failed attempts are counted per username and per client address across every
    /// instance; past the limit the password is not even checked until the window ends, so
    /// guessing is slow and a lockout always ends on its own.
    pub async fn login(
        &self,
        username: &str,
        password: &Password,
        client_ip: Option<IpAddr>,
    ) -> Result<(SessionToken, User), LoginError> {
        let now = self.now();
        let limits = &self.settings.login_limits;
        let keys: Vec<(String, i64)> = std::iter::once((format!("user:{}", username.to_lowercase()), limits.per_user))
            .chain(client_ip.map(|ip| (format!("ip:{ip}"), limits.per_address)))
            .collect();
        for (key, max) in &keys {
            if let Some((failures, until)) = self.store.login_failures(key, now).await?
                && failures >= *max
            {
                self.audit(
                    kind::LOGIN_THROTTLED,
                    Subject { actor: Some(username), address: client_ip, ..Subject::default() },
                )
                .await;
                metrics::counter!("latchkey_login_failures_total", "reason" => "throttled").increment(1);
                return Err(LoginError::Throttled { retry_after: until - now });
            }
        }
        let user = self.store.user_by_name(username).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let password = password.clone();
        let ok = self
            .hashing
            .run(move || {
                let hash: &str = match &hash {
                    Some(h) => h,
                    None => dummy_hash(),
                };
                Argon2::default().verify_password(password.expose().as_bytes(), hash).is_ok()
            })
            .await?;
        let Some(user) = user.filter(|_| ok) else {
            for (key, _) in &keys {
                self.store.record_login_failure(key, now, limits.window).await?;
            }
            self.audit(kind::LOGIN_FAILED, Subject { actor: Some(username), address: client_ip, ..Subject::default() })
                .await;
            metrics::counter!("latchkey_login_failures_total", "reason" => "bad_credentials").increment(1);
            return Err(LoginError::BadCredentials);
        };
        self.store.clear_login_failures(&keys[0].0).await?;
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

    /// The user logged in with this session token, if the session is live.
    pub async fn session_user(&self, token: &SessionToken) -> Result<Option<User>, FlowError> {
        Ok(self.store.session_user(&token.hash(), self.now()).await?)
    }

    /// Ends a session.
    pub async fn logout(&self, token: &SessionToken) -> Result<(), FlowError> {
        Ok(self.store.delete_session(&token.hash()).await?)
    }
}
