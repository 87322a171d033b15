//! Authorization codes (RFC 6749 §4.1.2). A code is sealed and carries its own binding
//! (`latchkey-flows` makes and opens it), so only its redemption is stored: the digest of
//! each redeemed code, inserted once, is what makes it single-use.

use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{FamilyId, UnixTime, UserId};

use crate::refresh::{NewRefreshToken, bind_refresh_token};
use crate::{Store, StoreError, hot_write, on_pool};

/// Records a redemption that starts no refresh token: a row only for the first redemption
/// of the code, and only while its user exists (a code of a deleted account redeems
/// nothing). `$1` keep until, `$2` code digest, `$3` user id, `$4` family id.
const CONSUME_CODE_SQL: &str = "
    INSERT INTO consumed_codes (code_hash, family_id, expires_at)
    SELECT $2, $4, $1 WHERE EXISTS (SELECT 1 FROM users WHERE id = $3)
    ON CONFLICT (code_hash) DO NOTHING
    RETURNING 1";

/// Records a redemption as [`CONSUME_CODE_SQL`] does and, only if it was recorded, stores
/// the first refresh token of the family it starts. `$1` keep until, `$2` code digest,
/// `$3`–`$9` the refresh token as [`bind_refresh_token`] binds it (digest, family id,
/// client id, user id, scope, created at, expires at): the family is `$4`, the user `$6`.
const CONSUME_CODE_WITH_REFRESH_SQLITE: &str = "
    SAVEPOINT w;
    INSERT INTO consumed_codes (code_hash, family_id, expires_at)
    SELECT $2, $4, $1 WHERE EXISTS (SELECT 1 FROM users WHERE id = $6)
    ON CONFLICT (code_hash) DO NOTHING;
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at)
    SELECT $3, $4, $5, $6, $7, $8, $9 WHERE changes() = 1
    RETURNING 1;
    RELEASE w";
/// [`CONSUME_CODE_WITH_REFRESH_SQLITE`] in one statement.
const CONSUME_CODE_WITH_REFRESH_POSTGRES: &str = "
    WITH consumed AS (
        INSERT INTO consumed_codes (code_hash, family_id, expires_at)
        SELECT $2, $4, $1 WHERE EXISTS (SELECT 1 FROM users WHERE id = $6)
        ON CONFLICT (code_hash) DO NOTHING
        RETURNING 1)
    INSERT INTO refresh_tokens (token_hash, family_id, client_id, user_id, scope, created_at, expires_at)
    SELECT $3, $4, $5, $6, $7, $8, $9 FROM consumed
    RETURNING 1";

impl Store {
    /// Records the redemption of the code with digest `hash`, issued to `user_id`, keeping
    /// the record until `keep_until` (when the code can no longer be redeemed anyway) and,
    /// when `first_refresh` is given, stores the first refresh token of the family the
    /// code starts, in the same transaction, and the family with the record (for
    /// [`Store::revoke_refresh_by_code`]). True for exactly one caller, however many race
    /// (RFC 6749 §4.1.2: "The client MUST NOT use the authorization code more than once");
    /// false too when the user no longer exists ([`Store::code_consumed`] tells which).
    pub async fn consume_code(
        &self,
        hash: &SecretHash,
        user_id: &UserId,
        keep_until: UnixTime,
        family_id: &FamilyId,
        first_refresh: Option<&NewRefreshToken>,
    ) -> Result<bool, StoreError> {
        let n = match first_refresh {
            // No refresh token: the family is only the `gid` of the access tokens issued.
            None => hot_write!(self, sql: CONSUME_CODE_SQL,
                |q| q.bind(keep_until).bind(hash.as_bytes().to_vec()).bind(user_id.as_str().to_owned()).bind(family_id.as_str().to_owned()))?,
            Some(refresh) => {
                debug_assert_eq!(&refresh.grant.user_id, user_id);
                debug_assert_eq!(&refresh.family_id, family_id);
                hot_write!(self,
                    sqlite_atomic: CONSUME_CODE_WITH_REFRESH_SQLITE,
                    postgres: CONSUME_CODE_WITH_REFRESH_POSTGRES,
                    |q| bind_refresh_token(q.bind(keep_until).bind(hash.as_bytes().to_vec()), refresh))?
            }
        };
        Ok(n == 1)
    }

    /// Whether the code with digest `hash` was redeemed (and its record is still kept).
    pub async fn code_consumed(&self, hash: &SecretHash) -> Result<bool, StoreError> {
        let (consumed,): (bool,) = on_pool!(self, pool => sqlx::query_as("SELECT EXISTS (SELECT 1 FROM consumed_codes WHERE code_hash = $1)")
                .bind(hash.as_bytes()).fetch_one(pool).await)?;
        Ok(consumed)
    }
}
