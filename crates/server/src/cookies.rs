//! The login-session and CSRF cookies.
//!
//! Cookies are `HttpOnly; SameSite=Lax; Path=/`, and over https `Secure` with the
//! `__Host-` prefix. (`Lax`, not `Strict`: the top-level redirect back from a client must
//! still carry the session.)
//!
//! CSRF: once a browser has a login session, every form carries a token derived from the
//! session id (SHA-256 under a fixed label), so it is bound to that session and changes
//! with it at each login. Before login (the login form itself) the token is a random
//! double-submit cookie. Both are compared in constant time before anything changes;
//! `SameSite=Lax` keeps the cookies off cross-site POSTs as a second line.

use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use latchkey_protocol::secret::{SecretHash, SessionToken};

/// Names and flags of the cookies.
#[derive(Clone, Copy, Debug)]
pub struct CookiePolicy {
    secure: bool,
}

impl CookiePolicy {
    pub fn new(secure: bool) -> Self {
        CookiePolicy { secure }
    }

    fn session_name(&self) -> &'static str {
        if self.secure { "__Host-latchkey_session" } else { "latchkey_session" }
    }

    fn csrf_name(&self) -> &'static str {
        if self.secure { "__Host-latchkey_csrf" } else { "latchkey_csrf" }
    }

    /// A browser-session cookie; the server-side session row carries the real expiry.
    fn build(&self, name: &'static str, value: String) -> Cookie<'static> {
        let mut c = Cookie::new(name, value);
        c.set_http_only(true);
        c.set_same_site(SameSite::Lax);
        c.set_path("/");
        c.set_secure(self.secure);
        c
    }

    /// The session token the browser sent, if any.
    pub fn session(&self, jar: &CookieJar) -> Option<SessionToken> {
        jar.get(self.session_name()).map(|c| SessionToken::new(c.value()))
    }

    /// Sets the session cookie.
    pub fn set_session(&self, jar: CookieJar, token: &SessionToken) -> CookieJar {
        jar.add(self.build(self.session_name(), token.expose().to_owned()))
    }

    /// Removes the session cookie.
    pub fn clear_session(&self, jar: CookieJar) -> CookieJar {
        jar.remove(self.build(self.session_name(), String::new()))
    }

    /// The CSRF token for a form: the browser's, or a new one set on the jar.
    pub fn csrf(&self, jar: CookieJar) -> Result<(CookieJar, String), latchkey_flows::FlowError> {
        if let Some(bound) = self.session_csrf(&jar) {
            return Ok((jar, bound));
        }
        if let Some(c) = jar.get(self.csrf_name()).filter(|c| c.value().len() >= 32) {
            let value = c.value().to_owned();
            return Ok((jar, value));
        }
        let value = latchkey_flows::secrets::random_b64(32)?;
        Ok((jar.add(self.build(self.csrf_name(), value.clone())), value))
    }

    /// The token bound to the browser's login session, if it has one.
    fn session_csrf(&self, jar: &CookieJar) -> Option<String> {
        use base64::Engine;
        let session = jar.get(self.session_name())?;
        let digest = SecretHash::of(&format!("latchkey-csrf:{}", session.value()));
        Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_bytes()))
    }

    /// Whether a submitted form's CSRF token is the one this browser was given: bound to
    /// its session when it has one, else its double-submit cookie.
    pub fn csrf_ok(&self, jar: &CookieJar, submitted: Option<&str>) -> bool {
        if let Some(bound) = self.session_csrf(jar) {
            return submitted.is_some_and(|given| SecretHash::of(&bound).ct_eq(&SecretHash::of(given)));
        }
        match (jar.get(self.csrf_name()), submitted) {
            (Some(cookie), Some(given)) if cookie.value().len() >= 32 => {
                SecretHash::of(cookie.value()).ct_eq(&SecretHash::of(given))
            }
            _ => false,
        }
    }
}
