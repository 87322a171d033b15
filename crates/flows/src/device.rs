//! The device authorization grant, RFC 8628: a device without a browser shows a short
//! code; the user approves it on another screen; the device polls the token endpoint.

use latchkey_protocol::client::{Client, GrantType};
use latchkey_protocol::client_auth::ClientCredentials;
use latchkey_protocol::device::{DeviceAuthorization, DeviceDecision};
use latchkey_protocol::secret::DeviceCode;
use latchkey_protocol::token::TokenResponse;
use latchkey_protocol::{OAuthError, Scope};
use latchkey_store::{NewDeviceCode, StoreError, User};

use crate::{AuthServer, FlowError, ScopeDefinition, secrets};

/// Prefix of device codes.
pub const DEVICE_PREFIX: &str = "lkd_";

/// §6.1: 20 consonants, no vowels (no words), no look-alikes (0/O, 1/I).
const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";

/// Wrong user codes allowed per user per window before the page refuses to check more
/// (§5.1). Counted in the store, so the limit holds across every instance.
const MAX_GUESSES: i64 = 10;
const GUESS_WINDOW: i64 = 600;

/// What the verification page does with a code the user typed.
#[derive(Debug)]
pub enum UserCodeCheck {
    /// A live request: show it for approval.
    Pending {
        /// The normalised code.
        user_code: String,
        /// The client asking.
        client: Box<Client>,
        /// Each scope with its sentence.
        scopes: Vec<ScopeDefinition>,
    },
    /// No live request has this code.
    Unknown,
    /// Too many wrong codes lately (§5.1: brute force protection); the code was not looked up.
    TooManyAttempts {
        /// Seconds until guesses are counted afresh.
        retry_after: i64,
    },
}

/// What became of the user's Allow or Deny.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDecided {
    /// Recorded: the device gets its answer at its next poll.
    Recorded,
    /// No live, undecided request has this code.
    NotPending,
    /// Too many wrong codes lately (§5.1); the code was not looked up.
    TooManyAttempts {
        /// Seconds until guesses are counted afresh.
        retry_after: i64,
    },
}

/// Normalises what a user typed: case and dashes or spaces do not matter (§6.1).
pub fn normalise_user_code(input: &str) -> Option<String> {
    let code: String = input.chars().filter(|c| !matches!(c, '-' | ' ')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == 8 && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// `BCDFGHJK` → `BCDF-GHJK`.
pub fn format_user_code(code: &str) -> String {
    if code.len() == 8 { format!("{}-{}", &code[..4], &code[4..]) } else { code.to_owned() }
}

/// The key of a user's guesses in the store.
fn guess_key(user: &User) -> String {
    format!("user:{}", user.id)
}

/// The scope of a device code row. It was stored from a parsed scope, so one that does not
/// parse is corrupt data, not the client's mistake.
fn stored_scope(text: &str) -> Result<Scope, FlowError> {
    Scope::parse(text).map_err(|e| FlowError::Corrupt(format!("device code scope `{text}`: {}", e.description)))
}

fn new_user_code() -> Result<String, FlowError> {
    let mut out = String::with_capacity(8);
    while out.len() < 8 {
        let mut buf = [0u8; 16];
        secrets::fill_random(&mut buf)?;
        // Rejection sampling: 240 is the largest multiple of 20 below 256, so no letter is favoured.
        for b in buf.into_iter().filter(|b| *b < 240) {
            if out.len() < 8 {
                out.push(char::from(ALPHABET[usize::from(b % 20)]));
            }
        }
    }
    Ok(out)
}

impl AuthServer {
    /// §3.1–§3.2: starts a device authorization.
    pub async fn device_authorization(
        &self,
        creds: &ClientCredentials,
        scope: Option<&str>,
    ) -> Result<DeviceAuthorization, FlowError> {
        let client = self.authenticate_client(creds).await?;
        if !client.allows_grant(GrantType::DeviceCode) {
            return Err(OAuthError::unauthorized_client("this client may not use the device grant").into());
        }
        let scope = client.resolve_scope(scope, &self.settings.scope_set())?;
        let now = self.now();
        let device_code = DeviceCode::new(secrets::new_secret(DEVICE_PREFIX)?);
        // A collision of user codes is rare (20^8); retry a few times.
        for _ in 0..5 {
            let user_code = new_user_code()?;
            let row = NewDeviceCode {
                hash: device_code.hash(),
                user_code: user_code.clone(),
                client_id: client.id.clone(),
                scope: scope.to_string(),
                created_at: now,
                expires_at: now + self.settings.device_code_ttl,
                interval_secs: self.settings.device_poll_interval,
            };
            match self.store.insert_device_code(&row).await {
                Ok(()) => {
                    let shown = format_user_code(&user_code);
                    let verification_uri = format!("{}/device", self.settings.issuer);
                    return Ok(DeviceAuthorization {
                        device_code: device_code.expose().to_owned(),
                        verification_uri_complete: Some(format!("{verification_uri}?user_code={shown}")),
                        verification_uri,
                        user_code: shown,
                        expires_in: self.settings.device_code_ttl,
                        interval: self.settings.device_poll_interval,
                    });
                }
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(FlowError::Internal("could not find a free user code in 5 draws".into()))
    }

    /// §5.1: "the authorization server SHOULD rate-limit user code attempts". Every path
    /// that takes a user code counts it here *before* looking it up (one conditional write
    /// in the store, shared by every instance), and takes it back with [`Self::forgive_guess`]
    /// when the code was right: so only wrong codes stay counted, and no number of
    /// concurrent requests gets more than the limit looked up. `Some(seconds to wait)` past
    /// the limit. Counted per user only: the page needs a login, and a count per address
    /// would let one user behind a shared address lock the others out.
    async fn count_guess(&self, user: &User, now: i64) -> Result<Option<i64>, FlowError> {
        let count = self.store.count_user_code_guess(&guess_key(user), now, GUESS_WINDOW, MAX_GUESSES).await?;
        if count.within_limit {
            return Ok(None);
        }
        metrics::counter!("latchkey_device_user_code_throttled_total").increment(1);
        Ok(Some((count.window_ends - now).max(1)))
    }

    async fn forgive_guess(&self, user: &User, now: i64) -> Result<(), FlowError> {
        Ok(self.store.forgive_user_code_guess(&guess_key(user), now).await?)
    }

    /// Looks up the code a logged-in user typed, counting wrong guesses (§5.1).
    pub async fn check_user_code(&self, user: &User, input: &str) -> Result<UserCodeCheck, FlowError> {
        let now = self.now();
        if let Some(retry_after) = self.count_guess(user, now).await? {
            return Ok(UserCodeCheck::TooManyAttempts { retry_after });
        }
        let found = match normalise_user_code(input) {
            Some(code) => self.store.device_code_by_user_code(&code, now).await?,
            None => None,
        };
        let Some(row) = found else { return Ok(UserCodeCheck::Unknown) };
        self.forgive_guess(user, now).await?;
        let Some(client) = self.store.client(row.client_id.as_str()).await? else { return Ok(UserCodeCheck::Unknown) };
        let scope = stored_scope(&row.scope)?;
        Ok(UserCodeCheck::Pending {
            user_code: row.user_code,
            client: Box::new(client),
            scopes: self.describe_scope(&scope),
        })
    }

    /// Records the user's Allow or Deny, counting the code as a guess (§5.1) like
    /// [`Self::check_user_code`]: the decision carries a user code too.
    pub async fn decide_device(
        &self,
        user: &User,
        user_code: &str,
        decision: DeviceDecision,
    ) -> Result<DeviceDecided, FlowError> {
        let now = self.now();
        if let Some(retry_after) = self.count_guess(user, now).await? {
            return Ok(DeviceDecided::TooManyAttempts { retry_after });
        }
        let Some(code) = normalise_user_code(user_code) else { return Ok(DeviceDecided::NotPending) };
        if !self.store.decide_device_code(&code, &user.id, decision.as_str(), now).await? {
            return Ok(DeviceDecided::NotPending);
        }
        self.forgive_guess(user, now).await?;
        if decision == DeviceDecision::Allow {
            let subject = crate::audit::Subject {
                actor: Some(&user.username),
                detail: Some(format!("user code {}", format_user_code(&code))),
                ..Default::default()
            };
            self.audit(crate::audit::kind::DEVICE_APPROVED, subject).await;
        }
        Ok(DeviceDecided::Recorded)
    }

    /// §3.4–§3.5: the device polls.
    pub(crate) async fn redeem_device_code(
        &self,
        client: &Client,
        device_code: &DeviceCode,
    ) -> Result<TokenResponse, FlowError> {
        let hash = device_code.hash();
        let now = self.now();
        let Some(row) = self.store.device_code(&hash).await? else {
            return Err(OAuthError::invalid_grant("unknown device code").into());
        };
        if row.client_id != client.id {
            return Err(OAuthError::invalid_grant("the device code was issued to another client").into());
        }
        if row.consumed_at.is_some() {
            return Err(OAuthError::invalid_grant("the device code was already used").into());
        }
        if now >= row.expires_at {
            return Err(OAuthError::expired_token("the device code has expired; start again").into());
        }
        match (row.decision.as_deref().and_then(DeviceDecision::parse), row.user_id.as_ref()) {
            (Some(DeviceDecision::Deny), _) => Err(OAuthError::access_denied("the user denied the request").into()),
            (Some(DeviceDecision::Allow), Some(user_id)) => {
                // Exactly once, however many polls race.
                if !self.store.consume_device_code(&hash, now).await? {
                    return Err(OAuthError::invalid_grant("the device code was already used").into());
                }
                let scope = stored_scope(&row.scope)?;
                let family = self.new_refresh_family(client, user_id, &scope)?;
                if let Some((_, row)) = &family {
                    self.store.insert_refresh_token(row).await?;
                }
                let family_id = family.as_ref().map(|(_, row)| row.family_id.clone());
                self.user_tokens(client, user_id, &scope, family_id.as_ref(), family).await
            }
            _ => {
                // §3.5 slow_down: "the interval MUST be increased by 5 seconds for this and
                // all subsequent requests".
                let too_fast = row.last_polled_at.is_some_and(|t| now - t < row.interval_secs);
                self.store.poll_device_code(&hash, now, too_fast).await?;
                if too_fast {
                    Err(OAuthError::slow_down("polling too fast; wait 5 seconds longer between requests").into())
                } else {
                    Err(OAuthError::authorization_pending("the user has not answered yet").into())
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8628_6_1_user_codes_are_case_and_dash_insensitive() {
        let code = new_user_code().unwrap();
        assert_eq!(code.len(), 8);
        assert!(code.bytes().all(|b| ALPHABET.contains(&b)));
        let shown = format_user_code(&code);
        assert_eq!(normalise_user_code(&shown.to_lowercase()).as_deref(), Some(code.as_str()));
        assert_eq!(normalise_user_code("bcdf ghjk").as_deref(), Some("BCDFGHJK"));
        assert!(normalise_user_code("AEIO-UBCD").is_none(), "vowels are not in the alphabet");
        assert!(normalise_user_code("BCDF-GHJ").is_none());
    }
}
