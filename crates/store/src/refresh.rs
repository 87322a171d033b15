//! Refresh tokens (RFC 6749 §6) in rotation families (RFC 9700 §4.14.2).

use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::token::RefreshGrant;
use latchkey_protocol::{ClientId, FamilyId, Scope, UnixTime, UserId};

use crate::{Store, StoreError, hot_write, on_pool, on_writer};

/// A refresh token to store.
#[derive(Debug, Clone)]
pub struct NewRefreshToken {
    /// Digest of the token.
    pub hash: SecretHash,
    /// The rotation family: every token rotated from one grant shares it.
    pub family_id: FamilyId,
    /// Client, user, scope and expiry.
    pub grant: RefreshGrant,
    /// When it was issued.
    pub created_at: UnixTime,
}

/// A stored refresh token.
#[derive(Debug, Clone)]
pub struct StoredRefreshToken {
    /// Its family.
    pub family_id: FamilyId,
    /// Client, user, scope and expiry.
    pub grant: RefreshGrant,
    /// Set once it has been exchanged for a successor.
    pub rotated_at: Option<UnixTime>,
    /// Set when it (or its family) was revoked.
    pub revoked_at: Option<UnixTime>,
}

#[derive(sqlx::FromRow)]
struct RefreshRow {
    family_id: String,
    client_id: String,
    user_id: String,
    scope: String,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
}

/// Binds `t`'s seven columns after whatever `q` already binds, in the order of the column
/// list of `refresh_tokens` in [`INSERT_REFRESH_TOKEN_SQL`], [`ROTATE_REFRESH_TOKEN_SQLITE`]
/// and `CONSUME_CODE_WITH_REFRESH_SQLITE`: token digest, family id, client id, user id,
/// scope, created at, expires at.
pub(crate) fn bind_refresh_token<DB: sqlx::Database>(
    q: sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>,
    t: &NewRefreshToken,
) -> sqlx::query::Query<'static, DB, <DB as sqlx::Database>::Arguments>
where
    Vec<u8>: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    String: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
    i64: for<'e> sqlx::Encode<'e, DB> + sqlx::Type<DB>,
{
    q.bind(t.hash.as_bytes().to_vec())
        .bind(t.family_id.as_str().to_owned())
        .bind(t.grant.client_id.as_str().to_owned())
        .bind(t.grant.user_id.as_str().to_owned())
        .bind(t.grant.scope.to_string())
        .bind(t.created_at)
        .bind(t.grant.expires_at)
}

fn stored_refresh(r: RefreshRow) -> Result<StoredRefreshToken, StoreError> {
    let scope = Scope::parse(&r.scope).map_err(|_| StoreError::corrupt("refresh scope"))?;
    Ok(StoredRefreshToken {
        family_id: FamilyId::from(r.family_id),
        grant: RefreshGrant {
            client_id: ClientId::from(r.client_id),
            user_id: UserId::from(r.user_id),
            scope,
            expires_at: r.expires_at,
        },
        rotated_at: r.rotated_at,
        revoked_at: r.revoked_at,
    })
}

/// `$1`–`$7` as [`bind_refresh_token`] binds them.
const INSERT_REFRESH_TOKEN_SQL: &str = "
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Marks the token `$2` rotated at `$1` if it is neither rotated nor revoked and, only
/// then, stores its successor: `$3`–`$9` as [`bind_refresh_token`] binds them.
const ROTATE_REFRESH_TOKEN_SQLITE: &str = "
    SAVEPOINT w;
    UPDATE refresh_tokens SET rotated_at = $1
    WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL;
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at)
    SELECT $3, $4, $5, $6, $7, $8, $9 WHERE changes() = 1
    RETURNING 1;
    RELEASE w";
/// [`ROTATE_REFRESH_TOKEN_SQLITE`] in one statement.
const ROTATE_REFRESH_TOKEN_POSTGRES: &str = "
    WITH rotated AS (
        UPDATE refresh_tokens SET rotated_at = $1
        WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL
        RETURNING 1)
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at)
    SELECT $3, $4, $5, $6, $7, $8, $9 FROM rotated
    RETURNING 1";

/// Marks the token `$2` rotated at `$1` if it is live, issued to the client `$3` and not
/// expired at `$1`; only then stores the successor `$4`, issued at `$1`, with the rest of
/// the rotated token's columns; returns the rotated token as it was.
const ROTATE_LIVE_REFRESH_TOKEN_SQLITE: &str = "
    SAVEPOINT w;
    UPDATE refresh_tokens SET rotated_at = $1
    WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL AND client_id = $3 AND expires_at > $1;
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at)
    SELECT $4, family_id, client_id, user_id, scope, $1, expires_at FROM refresh_tokens
    WHERE token_hash = $2 AND changes() = 1
    RETURNING family_id, client_id, user_id, scope, expires_at, NULL AS rotated_at, NULL AS revoked_at;
    RELEASE w";
/// [`ROTATE_LIVE_REFRESH_TOKEN_SQLITE`] in one statement.
const ROTATE_LIVE_REFRESH_TOKEN_POSTGRES: &str = "
    WITH rotated AS (
        UPDATE refresh_tokens SET rotated_at = $1
        WHERE token_hash = $2 AND rotated_at IS NULL AND revoked_at IS NULL AND client_id = $3 AND expires_at > $1
        RETURNING family_id, client_id, user_id, scope, expires_at)
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at)
    SELECT $4, family_id, client_id, user_id, scope, $1, expires_at FROM rotated
    RETURNING family_id, client_id, user_id, scope, expires_at, NULL::BIGINT AS rotated_at, NULL::BIGINT AS revoked_at";

impl Store {
    /// Stores a new refresh token (the first of a family).
    pub async fn insert_refresh_token(&self, t: &NewRefreshToken) -> Result<(), StoreError> {
        hot_write!(self, sql: INSERT_REFRESH_TOKEN_SQL, |q| bind_refresh_token(q, t))?;
        Ok(())
    }

    /// The refresh token with this digest, in whatever state.
    pub async fn refresh_token(&self, hash: &SecretHash) -> Result<Option<StoredRefreshToken>, StoreError> {
        let row: Option<RefreshRow> = on_pool!(self, pool => sqlx::query_as(
            "SELECT family_id, client_id, user_id, scope, expires_at, rotated_at, revoked_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(hash.as_bytes()).fetch_optional(pool).await)?;
        row.map(stored_refresh).transpose()
    }

    /// Replaces `old` by `new` atomically: marks `old` rotated only if it is neither rotated
    /// nor revoked, and then stores `new`. False when another request rotated or revoked it
    /// first (the caller treats that as reuse, RFC 9700 §4.14.2).
    pub async fn rotate_refresh_token(
        &self,
        old: &SecretHash,
        new: &NewRefreshToken,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let n = hot_write!(self,
            sqlite_atomic: ROTATE_REFRESH_TOKEN_SQLITE,
            postgres: ROTATE_REFRESH_TOKEN_POSTGRES,
            |q| bind_refresh_token(q.bind(now).bind(old.as_bytes().to_vec()), new))?;
        Ok(n == 1)
    }

    /// The usual refresh in one write: if the token with digest `old` is live (neither
    /// rotated nor revoked), was issued to `client_id` and has not expired at `now`, marks
    /// it rotated and stores `successor` in its place — same family, client, user,
    /// scope and absolute expiry (RFC 6749 §6, RFC 9700 §4.14.2) — and returns the rotated
    /// token as it was. `None` changes nothing: the caller then reads the token to say why.
    pub async fn rotate_live_refresh_token(
        &self,
        old: &SecretHash,
        client_id: &ClientId,
        successor: &SecretHash,
        now: UnixTime,
    ) -> Result<Option<StoredRefreshToken>, StoreError> {
        let rows = hot_write!(rows: RefreshRow, self,
            sqlite_atomic: ROTATE_LIVE_REFRESH_TOKEN_SQLITE,
            postgres: ROTATE_LIVE_REFRESH_TOKEN_POSTGRES,
            |q| q.bind(now).bind(old.as_bytes().to_vec()).bind(client_id.as_str().to_owned()).bind(successor.as_bytes().to_vec()))?;
        rows.into_iter().next().map(stored_refresh).transpose()
    }

    /// Revokes every token of a family. Returns how many were live.
    pub async fn revoke_refresh_family(&self, family_id: &FamilyId, now: UnixTime) -> Result<u64, StoreError> {
        Ok(
            on_writer!(self, pool => sqlx::query("UPDATE refresh_tokens SET revoked_at = $1 WHERE family_id = $2 AND revoked_at IS NULL")
            .bind(now).bind(family_id.as_str()).execute(pool).await.map(|r| r.rows_affected()))?,
        )
    }

    /// Revokes every token issued from a code: the family its redemption started, with
    /// its refresh tokens and (through `gid`) its access tokens, until `access_expiry`, by
    /// when every access token of the family has expired (RFC 6749 §4.1.2 on code reuse).
    /// Returns how many refresh tokens were live.
    pub async fn revoke_refresh_by_code(
        &self,
        code_hash: &SecretHash,
        now: UnixTime,
        access_expiry: UnixTime,
    ) -> Result<u64, StoreError> {
        on_writer!(self, pool => sqlx::query("INSERT INTO revoked_families (family_id, expires_at)
                SELECT family_id, $1 FROM consumed_codes WHERE code_hash = $2 AND family_id IS NOT NULL
                ON CONFLICT (family_id) DO NOTHING")
            .bind(access_expiry).bind(code_hash.as_bytes()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(on_writer!(self, pool => sqlx::query("UPDATE refresh_tokens SET revoked_at = $1
                WHERE family_id = (SELECT family_id FROM consumed_codes WHERE code_hash = $2) AND revoked_at IS NULL")
            .bind(now).bind(code_hash.as_bytes()).execute(pool).await.map(|r| r.rows_affected()))?)
    }

    /// Revokes every refresh family of a user, or of a user with one client: their refresh
    /// tokens and, through `gid`, the access tokens issued from them. Returns how many
    /// refresh tokens were live.
    pub async fn revoke_user_families(
        &self,
        user_id: &UserId,
        client_id: Option<&ClientId>,
        now: UnixTime,
    ) -> Result<u64, StoreError> {
        Ok(on_writer!(self, pool => sqlx::query("UPDATE refresh_tokens SET revoked_at = $1
                WHERE family_id IN (SELECT family_id FROM refresh_tokens WHERE user_id = $2 AND ($3 IS NULL OR client_id = $3))
                AND revoked_at IS NULL")
            .bind(now).bind(user_id.as_str()).bind(client_id.map(ClientId::as_str)).execute(pool).await.map(|r| r.rows_affected()))?)
    }
}
