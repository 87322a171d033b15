//! An OAuth 2.0 client: discovery (RFC 8414), the authorization code grant with PKCE
//! (RFC 6749 §4.1, RFC 7636) and `state`, refresh (§6) and client credentials (§4.4).
//!
//! Works with any standard authorization server; Latchkey's CLI and demo use it.
#![warn(missing_docs)]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
pub use latchkey_protocol::ErrorCode;
use latchkey_protocol::client_auth::basic_header;
use latchkey_protocol::error::ErrorBody;
use latchkey_protocol::form::Params;
use latchkey_protocol::introspection::IntrospectionResponse;
use latchkey_protocol::metadata::AuthorizationServerMetadata;
use latchkey_protocol::pkce::CodeChallenge;
use latchkey_protocol::token::TokenResponse;
use std::time::Duration;

pub use latchkey_protocol::device::DeviceAuthorization;

/// The `error` code of a server's answer: one of [`ErrorCode`], or another (an RFC 6749
/// §8.5 extension, or RFC 6750's `invalid_token` from a registration endpoint).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceivedCode {
    /// A code of RFC 6749 and the RFCs Latchkey implements.
    Known(ErrorCode),
    /// Any other code, as received.
    Other(String),
}

impl ReceivedCode {
    /// Reads the `error` parameter.
    pub fn parse(text: &str) -> ReceivedCode {
        ErrorCode::parse(text).map_or_else(|| ReceivedCode::Other(text.to_owned()), ReceivedCode::Known)
    }

    /// The code as it appeared on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            ReceivedCode::Known(code) => code.as_str(),
            ReceivedCode::Other(text) => text,
        }
    }
}

impl std::fmt::Display for ReceivedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an OAuth error (RFC 6749 §5.2 or §4.1.2.1).
    #[error("{error}: {}", description.as_deref().unwrap_or(""))]
    OAuth {
        /// The `error` code.
        error: ReceivedCode,
        /// The `error_description`, if any.
        description: Option<String>,
        /// The HTTP status (0 for an error delivered by redirect).
        status: u16,
    },
    /// The `state` in the redirect is not the one sent (RFC 6749 §10.12: possible CSRF).
    #[error("the state in the redirect does not match the request (possible CSRF); discarded")]
    StateMismatch,
    /// The `iss` of the authorization response is not the expected issuer (RFC 9207:
    /// possible mix-up attack).
    #[error("the authorization response comes from another issuer (RFC 9207); discarded")]
    IssuerMismatch,
    /// Discovery failed or the metadata is unusable.
    #[error("discovery: {0}")]
    Discovery(String),
    /// The network or the response format failed.
    #[error("HTTP: {0}")]
    Http(String),
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        ClientError::Http(e.to_string())
    }
}

/// A client registered at an authorization server.
#[derive(Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    metadata: AuthorizationServerMetadata,
    client_id: String,
    client_secret: Option<String>,
}

impl std::fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthClient")
            .field("issuer", &self.metadata.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// An authorization request in flight: where to send the browser, and what to check on return.
#[derive(Debug, Clone)]
pub struct PendingAuthorization {
    /// The URL to open in the browser.
    pub url: String,
    /// The `state` sent (RFC 6749 §10.12).
    pub state: String,
    /// The PKCE verifier (RFC 7636 §4.1), kept secret until the code exchange.
    pub code_verifier: String,
    /// The redirect URI used.
    pub redirect_uri: String,
}

/// `bytes` bytes from the OS generator, base64url without padding: unguessable values
/// such as `state` (RFC 6749 §10.12), PKCE verifiers (RFC 7636 §7.1) or an app's own
/// session ids.
pub fn random_token(bytes: usize) -> Result<String, ClientError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| ClientError::Http(format!("OS random generator: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// An HTTP client for calls to an authorization server: no redirects followed, timeouts set.
pub fn http_client() -> Result<reqwest::Client, ClientError> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(15))
        .no_proxy()
        .build()?)
}

impl OAuthClient {
    /// Fetches the issuer's metadata (RFC 8414 §3) and checks that its `issuer` is the
    /// one asked for (§3.3).
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        client_secret: Option<&str>,
    ) -> Result<OAuthClient, ClientError> {
        let http = http_client()?;
        let url = format!("{}/.well-known/oauth-authorization-server", issuer.trim_end_matches('/'));
        let res = http.get(&url).send().await?;
        if !res.status().is_success() {
            return Err(ClientError::Discovery(format!("{url} answered {}", res.status())));
        }
        let metadata: AuthorizationServerMetadata =
            res.json().await.map_err(|e| ClientError::Discovery(e.to_string()))?;
        if metadata.issuer.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(ClientError::Discovery(format!("metadata issuer `{}` is not `{issuer}`", metadata.issuer)));
        }
        Ok(OAuthClient {
            http,
            metadata,
            client_id: client_id.to_owned(),
            client_secret: client_secret.map(str::to_owned),
        })
    }

    /// The server's metadata.
    pub fn metadata(&self) -> &AuthorizationServerMetadata {
        &self.metadata
    }

    /// Builds an authorization request (§4.1.1) with a fresh `state` and an S256 PKCE challenge.
    pub fn authorization_request(
        &self,
        redirect_uri: &str,
        scope: Option<&str>,
    ) -> Result<PendingAuthorization, ClientError> {
        let state = random_token(16)?;
        let code_verifier = random_token(32)?;
        let challenge = CodeChallenge::s256(&code_verifier);
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", &state)
            .append_pair("code_challenge", challenge.as_str())
            .append_pair("code_challenge_method", "S256");
        if let Some(s) = scope {
            q.append_pair("scope", s);
        }
        let sep = if self.metadata.authorization_endpoint.contains('?') { '&' } else { '?' };
        let url = format!("{}{sep}{}", self.metadata.authorization_endpoint, q.finish());
        Ok(PendingAuthorization { url, state, code_verifier, redirect_uri: redirect_uri.to_owned() })
    }

    /// Handles the redirect back (§4.1.2): checks `state`, surfaces an error, and
    /// exchanges the code (§4.1.3).
    pub async fn finish_authorization(
        &self,
        pending: &PendingAuthorization,
        callback_query: &str,
    ) -> Result<TokenResponse, ClientError> {
        let params = Params::parse(callback_query.as_bytes()).map_err(|e| ClientError::Http(e.to_string()))?;
        if params.get("state") != Some(pending.state.as_str()) {
            return Err(ClientError::StateMismatch);
        }
        // RFC 9207 §2.4: compare `iss` with the issuer this request went to; when the
        // server says it sends `iss`, a response without it is refused too.
        match params.get("iss") {
            Some(iss) if iss != self.metadata.issuer => return Err(ClientError::IssuerMismatch),
            None if self.metadata.authorization_response_iss_parameter_supported => {
                return Err(ClientError::IssuerMismatch);
            }
            _ => {}
        }
        if let Some(error) = params.get("error") {
            return Err(ClientError::OAuth {
                error: ReceivedCode::parse(error),
                description: params.get("error_description").map(str::to_owned),
                status: 0,
            });
        }
        let code = params
            .get("code")
            .ok_or_else(|| ClientError::Http("the redirect carries neither code nor error".into()))?;
        self.exchange_code(code, &pending.redirect_uri, &pending.code_verifier).await
    }

    /// §4.1.3: trades a code for tokens.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<TokenResponse, ClientError> {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", code_verifier),
        ])
        .await
    }

    /// §6: a new access token (and, with rotation, a new refresh token).
    pub async fn refresh(&self, refresh_token: &str, scope: Option<&str>) -> Result<TokenResponse, ClientError> {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        self.token(&form).await
    }

    /// §4.4: a token for the client itself.
    pub async fn client_credentials(&self, scope: Option<&str>) -> Result<TokenResponse, ClientError> {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        self.token(&form).await
    }

    /// RFC 7009: revokes a token (a refresh token takes its family with it).
    pub async fn revoke(&self, token: &str, hint: Option<&str>) -> Result<(), ClientError> {
        let endpoint = self.endpoint(self.metadata.revocation_endpoint.as_deref(), "revocation")?;
        let mut form = vec![("token", token)];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        let (status, bytes) = self.post_form(endpoint, &form).await?;
        if status.is_success() { Ok(()) } else { Err(oauth_error(status, &bytes)) }
    }

    /// RFC 7662: asks whether a token is active (for confidential clients, such as
    /// resource servers).
    pub async fn introspect(&self, token: &str, hint: Option<&str>) -> Result<IntrospectionResponse, ClientError> {
        let endpoint = self.endpoint(self.metadata.introspection_endpoint.as_deref(), "introspection")?;
        let mut form = vec![("token", token)];
        if let Some(h) = hint {
            form.push(("token_type_hint", h));
        }
        let (status, bytes) = self.post_form(endpoint, &form).await?;
        if !status.is_success() {
            return Err(oauth_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Http(format!("bad introspection response: {e}")))
    }

    /// RFC 8628 §3.1: starts a device authorization.
    pub async fn device_authorization(&self, scope: Option<&str>) -> Result<DeviceAuthorization, ClientError> {
        let endpoint = self.endpoint(self.metadata.device_authorization_endpoint.as_deref(), "device authorization")?;
        let mut form = Vec::new();
        if let Some(s) = scope {
            form.push(("scope", s));
        }
        let (status, bytes) = self.post_form(endpoint, &form).await?;
        if !status.is_success() {
            return Err(oauth_error(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Http(format!("bad device authorization response: {e}")))
    }

    /// RFC 8628 §3.4–§3.5: polls until the user answers, honouring `interval` and
    /// `slow_down`, until the device code expires.
    pub async fn poll_device(&self, auth: &DeviceAuthorization) -> Result<TokenResponse, ClientError> {
        let mut interval = auth.interval.max(1);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(auth.expires_in.max(1) as u64);
        loop {
            tokio::time::sleep(Duration::from_secs(interval as u64)).await;
            match self.token(&[("grant_type", GRANT_DEVICE), ("device_code", &auth.device_code)]).await {
                Err(ClientError::OAuth { error: ReceivedCode::Known(ErrorCode::AuthorizationPending), .. }) => {}
                Err(ClientError::OAuth { error: ReceivedCode::Known(ErrorCode::SlowDown), .. }) => interval += 5,
                other => return other,
            }
            if tokio::time::Instant::now() >= deadline {
                let error = ReceivedCode::Known(ErrorCode::ExpiredToken);
                return Err(ClientError::OAuth { error, description: None, status: 400 });
            }
        }
    }

    fn endpoint<'a>(&self, endpoint: Option<&'a str>, what: &str) -> Result<&'a str, ClientError> {
        endpoint.ok_or_else(|| ClientError::Discovery(format!("the server has no {what} endpoint")))
    }

    /// POSTs a form with `client_secret_basic` (§2.3.1) or, for a public client, its
    /// `client_id` in the body.
    async fn post_form(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> Result<(reqwest::StatusCode, Vec<u8>), ClientError> {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(endpoint);
        match &self.client_secret {
            Some(secret) => req = req.header(reqwest::header::AUTHORIZATION, basic_header(&self.client_id, secret)),
            None => form.push(("client_id", &self.client_id)),
        }
        let res = req.form(&form).send().await?;
        let status = res.status();
        Ok((status, res.bytes().await?.to_vec()))
    }

    /// POSTs to the token endpoint.
    async fn token(&self, form: &[(&str, &str)]) -> Result<TokenResponse, ClientError> {
        let (status, bytes) = self.post_form(&self.metadata.token_endpoint.clone(), form).await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Http(format!("bad token response: {e}")));
        }
        Err(oauth_error(status, &bytes))
    }
}

/// RFC 8628 §3.4 grant type.
const GRANT_DEVICE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// Reads an RFC 6749 §5.2 error body.
fn oauth_error(status: reqwest::StatusCode, bytes: &[u8]) -> ClientError {
    match serde_json::from_slice::<ErrorBody>(bytes) {
        Ok(body) => ClientError::OAuth {
            error: ReceivedCode::parse(&body.error),
            description: body.error_description,
            status: status.as_u16(),
        },
        Err(_) => ClientError::Http(format!("the server answered {status}")),
    }
}

/// RFC 7591 §3: registers a client at a registration endpoint, with an initial access
/// token when the server asks for one. Returns the server's answer (client_id,
/// client_secret, registration_access_token, registration_client_uri, …).
pub async fn register_client(
    registration_endpoint: &str,
    initial_access_token: Option<&str>,
    metadata: &serde_json::Value,
) -> Result<serde_json::Value, ClientError> {
    let mut req = http_client()?.post(registration_endpoint).json(metadata);
    if let Some(t) = initial_access_token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status();
    let bytes = res.bytes().await?;
    if !status.is_success() {
        return Err(oauth_error(status, &bytes));
    }
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Http(format!("bad registration response: {e}")))
}

/// RFC 7592: reads (`GET`), replaces (`PUT`, with `metadata`) or deletes (`DELETE`) a
/// registration at its `registration_client_uri`. Returns the answer (`Null` for a delete).
pub async fn manage_registration(
    method: reqwest::Method,
    registration_client_uri: &str,
    registration_access_token: &str,
    metadata: Option<&serde_json::Value>,
) -> Result<serde_json::Value, ClientError> {
    let mut req = http_client()?.request(method, registration_client_uri).bearer_auth(registration_access_token);
    if let Some(m) = metadata {
        req = req.json(m);
    }
    let res = req.send().await?;
    let status = res.status();
    let bytes = res.bytes().await?;
    if !status.is_success() {
        return Err(oauth_error(status, &bytes));
    }
    if bytes.is_empty() {
        return Ok(serde_json::Value::Null);
    }
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Http(format!("bad registration response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_5_2_error_codes_are_typed_and_other_codes_kept() {
        assert_eq!(ReceivedCode::parse("slow_down"), ReceivedCode::Known(ErrorCode::SlowDown));
        // RFC 6750 §3.1, answered by an RFC 7592 registration endpoint.
        let other = ReceivedCode::parse("invalid_token");
        assert_eq!(other, ReceivedCode::Other("invalid_token".into()));
        assert_eq!(other.to_string(), "invalid_token");
        let e = oauth_error(reqwest::StatusCode::BAD_REQUEST, br#"{"error":"authorization_pending"}"#);
        assert!(
            matches!(
                e,
                ClientError::OAuth { error: ReceivedCode::Known(ErrorCode::AuthorizationPending), status: 400, .. }
            ),
            "{e}"
        );
    }
}
