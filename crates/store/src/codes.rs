//! Authorization codes (RFC 6749 §4.1.2), stored by digest, consumed atomically.

use latchkey_protocol::pkce::CodeChallenge;
use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::token::CodeGrant;
use latchkey_protocol::{Scope, UnixTime};

use crate::refresh::{NewRefreshToken, bind_refresh_token, insert_successor};
use crate::{Store, StoreError, hot_write, on_pool};

/// A stored code: what it is bound to, and whether it was used.
#[derive(Debug, Clone)]
pub struct StoredCode {
    /// The binding.
    pub grant: CodeGrant,
    /// When it was redeemed, if it was.
    pub consumed_at: Option<UnixTime>,
}

#[derive(sqlx::FromRow)]
struct CodeRow {
    client_id: String,
    user_id: String,
    redirect_uri: String,
    redirect_uri_given: bool,
    scope: String,
    code_challenge: Option<String>,
    expires_at: i64,
    consumed_at: Option<i64>,
}

impl Store {
    /// Stores a new code.
    pub async fn insert_code(&self, hash: &SecretHash, g: &CodeGrant, now: UnixTime) -> Result<(), StoreError> {
        hot_write!(self, sql: "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, redirect_uri_given, scope, code_challenge, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            |q| q.bind(hash.as_bytes().to_vec()).bind(g.client_id.clone()).bind(g.user_id.clone()).bind(g.redirect_uri.clone())
                .bind(g.redirect_uri_given).bind(g.scope.to_string()).bind(g.code_challenge.as_ref().map(|c| c.as_str().to_owned()))
                .bind(now).bind(g.expires_at))?;
        Ok(())
    }

    /// The code with this digest, used or not.
    pub async fn code(&self, hash: &SecretHash) -> Result<Option<StoredCode>, StoreError> {
        let row: Option<CodeRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT client_id, user_id, redirect_uri, redirect_uri_given, scope, code_challenge, expires_at, consumed_at
             FROM authorization_codes WHERE code_hash = $1")
            .bind(hash.as_bytes()).fetch_optional(pool).await)?;
        let Some(r) = row else { return Ok(None) };
        let scope = Scope::parse(&r.scope).map_err(|_| StoreError::Corrupt("code scope".into()))?;
        Ok(Some(StoredCode {
            grant: CodeGrant {
                client_id: r.client_id,
                user_id: r.user_id,
                redirect_uri: r.redirect_uri,
                redirect_uri_given: r.redirect_uri_given,
                scope,
                code_challenge: r.code_challenge.map(CodeChallenge::from_stored),
                expires_at: r.expires_at,
            },
            consumed_at: r.consumed_at,
        }))
    }

    /// Marks the code used and, when `first_refresh` is given, stores the first refresh
    /// token of the family the code starts, in the same transaction. True for exactly one
    /// caller, however many race (RFC 6749 §4.1.2: "The client MUST NOT use the
    /// authorization code more than once").
    pub async fn consume_code(
        &self,
        hash: &SecretHash,
        now: UnixTime,
        first_refresh: Option<&NewRefreshToken>,
    ) -> Result<bool, StoreError> {
        let n = match first_refresh {
            None => hot_write!(self,
                sql: "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL RETURNING 1",
                |q| q.bind(now).bind(hash.as_bytes().to_vec()))?,
            Some(refresh) => hot_write!(self,
                sqlite_atomic: concat!("SAVEPOINT w;
                    UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL;
                    ", insert_successor!(), " WHERE changes() = 1 RETURNING 1;
                    RELEASE w"),
                postgres: concat!("WITH consumed AS (UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL RETURNING 1)
                    ", insert_successor!(), " FROM consumed RETURNING 1"),
                |q| bind_refresh_token(q.bind(now).bind(hash.as_bytes().to_vec()), refresh))?,
        };
        Ok(n == 1)
    }
}
