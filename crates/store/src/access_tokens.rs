//! Opaque access tokens (stored by digest) and individually revoked JWT access tokens
//! (stored by `jti` only), for introspection (RFC 7662) and revocation (RFC 7009).

use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{ClientId, FamilyId, Jti, Subject, UnixTime};

use crate::{Store, StoreError, hot_write, on_pool, on_writer};

/// An access token the store knows.
#[derive(Debug, Clone)]
pub struct AccessTokenRow {
    /// Token identifier.
    pub jti: Jti,
    /// The client it was issued to.
    pub client_id: ClientId,
    /// The subject: a user id, or the client id for client credentials.
    pub subject: Subject,
    /// Granted scope.
    pub scope: String,
    /// The refresh-token family it came from, if any.
    pub family_id: Option<FamilyId>,
    /// Issued at.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
}

/// What introspection (RFC 7662) needs to know of an access token beyond its own fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenStanding {
    /// When the token was revoked, if it was (RFC 7009).
    pub revoked_at: Option<UnixTime>,
    /// Whether the refresh-token family it came from was revoked (RFC 7009 §2.1: then so
    /// are the access tokens issued from it).
    pub family_revoked: bool,
    /// The subject's username, when the subject is a user.
    pub username: Option<String>,
}

impl TokenStanding {
    /// Neither the token nor its family was revoked.
    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none() && !self.family_revoked
    }
}

/// [`AccessTokenRow`] as the database returns it.
#[derive(sqlx::FromRow)]
struct AccessTokenColumns {
    jti: String,
    client_id: String,
    subject: String,
    scope: String,
    family_id: Option<String>,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
}

impl From<AccessTokenColumns> for AccessTokenRow {
    fn from(c: AccessTokenColumns) -> AccessTokenRow {
        AccessTokenRow {
            jti: c.jti.into(),
            client_id: c.client_id.into(),
            subject: c.subject.into(),
            scope: c.scope,
            family_id: c.family_id.map(FamilyId::from),
            created_at: c.created_at,
            expires_at: c.expires_at,
            revoked_at: c.revoked_at,
        }
    }
}

#[derive(sqlx::FromRow)]
struct StandingRow {
    #[sqlx(flatten)]
    token: AccessTokenColumns,
    family_revoked: bool,
    username: Option<String>,
}

/// The token with digest `$1` and its [`TokenStanding`]: whether its family was revoked
/// (a revoked refresh token of the family, or a revoked family of a redeemed code), and its
/// subject's username.
const ACCESS_TOKEN_STANDING_SQL: &str = "
    SELECT a.jti, a.client_id, a.subject, a.scope, a.family_id, a.created_at, a.expires_at, a.revoked_at,
        (EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = a.family_id AND r.revoked_at IS NOT NULL)
            OR EXISTS (SELECT 1 FROM revoked_families f WHERE f.family_id = a.family_id)) AS family_revoked,
        (SELECT u.username FROM users u WHERE u.id = a.subject) AS username
    FROM access_tokens a WHERE a.token_hash = $1";

/// The [`TokenStanding`] of the JWT `$1` of family `$2` and subject `$3`, with the same
/// columns as [`ACCESS_TOKEN_STANDING_SQL`].
const JWT_STANDING_SQL: &str = "
    SELECT (SELECT a.revoked_at FROM access_tokens a WHERE a.jti = $1) AS revoked_at,
        (EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = $2 AND r.revoked_at IS NOT NULL)
            OR EXISTS (SELECT 1 FROM revoked_families f WHERE f.family_id = $2)) AS family_revoked,
        (SELECT u.username FROM users u WHERE u.id = $3) AS username";

impl Store {
    /// Stores an opaque access token by digest.
    pub async fn insert_access_token(&self, hash: &SecretHash, t: &AccessTokenRow) -> Result<(), StoreError> {
        hot_write!(self, sql: "INSERT INTO access_tokens (jti, token_hash, client_id, subject, scope, family_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            |q| q.bind(t.jti.as_str().to_owned()).bind(hash.as_bytes().to_vec()).bind(t.client_id.as_str().to_owned())
                .bind(t.subject.as_str().to_owned()).bind(t.scope.clone())
                .bind(t.family_id.as_ref().map(|f| f.as_str().to_owned())).bind(t.created_at).bind(t.expires_at))?;
        Ok(())
    }

    /// The opaque access token with this digest.
    pub async fn access_token(&self, hash: &SecretHash) -> Result<Option<AccessTokenRow>, StoreError> {
        let row: Option<AccessTokenColumns> = on_pool!(self, pool => sqlx::query_as(
            "SELECT jti, client_id, subject, scope, family_id, created_at, expires_at, revoked_at FROM access_tokens WHERE token_hash = $1")
            .bind(hash.as_bytes()).fetch_optional(pool).await)?;
        Ok(row.map(AccessTokenRow::from))
    }

    /// The opaque access token with this digest and its standing, in one query.
    pub async fn access_token_standing(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<(AccessTokenRow, TokenStanding)>, StoreError> {
        let row: Option<StandingRow> = on_pool!(self, pool => sqlx::query_as(ACCESS_TOKEN_STANDING_SQL)
            .bind(hash.as_bytes()).fetch_optional(pool).await)?;
        Ok(row.map(|r| {
            let standing = TokenStanding {
                revoked_at: r.token.revoked_at,
                family_revoked: r.family_revoked,
                username: r.username,
            };
            (AccessTokenRow::from(r.token), standing)
        }))
    }

    /// The standing of a JWT access token, by its `jti`, the family it came from and its
    /// subject, in one query.
    pub async fn jwt_standing(
        &self,
        jti: &Jti,
        family_id: Option<&FamilyId>,
        subject: &Subject,
    ) -> Result<TokenStanding, StoreError> {
        Ok(on_pool!(self, pool => sqlx::query_as(JWT_STANDING_SQL)
            .bind(jti.as_str()).bind(family_id.map(FamilyId::as_str)).bind(subject.as_str()).fetch_one(pool).await)?)
    }

    /// Revokes an opaque access token by digest. True if it was live.
    pub async fn revoke_access_token(&self, hash: &SecretHash, now: UnixTime) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE access_tokens SET revoked_at = $1 WHERE token_hash = $2 AND revoked_at IS NULL")
            .bind(now).bind(hash.as_bytes()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Records the revocation of a JWT access token (kept until it would have expired).
    pub async fn revoke_jwt(&self, t: &AccessTokenRow, now: UnixTime) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO access_tokens (jti, token_hash, client_id, subject, scope, family_id, created_at, expires_at, revoked_at)
             VALUES ($1, NULL, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (jti) DO UPDATE SET revoked_at = excluded.revoked_at")
            .bind(t.jti.as_str()).bind(t.client_id.as_str()).bind(t.subject.as_str()).bind(&t.scope)
            .bind(t.family_id.as_ref().map(FamilyId::as_str))
            .bind(t.created_at).bind(t.expires_at).bind(now)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
