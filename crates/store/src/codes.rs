//! Authorization codes (RFC 6749 §4.1.2). A code is sealed and carries its own binding
//! (`latchkey-flows` makes and opens it), so only its redemption is stored: the digest of
//! each redeemed code, inserted once, is what makes it single-use.

use latchkey_protocol::UnixTime;
use latchkey_protocol::secret::SecretHash;

use crate::refresh::{NewRefreshToken, bind_refresh_token, insert_successor};
use crate::{Store, StoreError, hot_write, on_pool};

/// The statement that records a redemption: `$1` how long to keep the record, `$2` the
/// code's digest, `$family` the refresh family it starts (or `NULL`), and `$user` the user
/// it was issued to (a code of a deleted account redeems nothing). No row when the code
/// was redeemed before.
macro_rules! insert_consumed {
    ($family:literal, $user:literal) => {
        concat!(
            "INSERT INTO consumed_codes (code_hash, family_id, expires_at) SELECT $2, ",
            $family,
            ", $1 WHERE EXISTS (SELECT 1 FROM users WHERE id = ",
            $user,
            ") ON CONFLICT (code_hash) DO NOTHING"
        )
    };
}

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
        user_id: &str,
        keep_until: UnixTime,
        family_id: &str,
        first_refresh: Option<&NewRefreshToken>,
    ) -> Result<bool, StoreError> {
        let n = match first_refresh {
            // No refresh token: the family is only the `gid` of the access tokens issued.
            None => hot_write!(self,
                sql: concat!(insert_consumed!("$4", "$3"), " RETURNING 1"),
                |q| q.bind(keep_until).bind(hash.as_bytes().to_vec()).bind(user_id.to_owned()).bind(family_id.to_owned()))?,
            // The refresh token's family (`$4`) is the one the code starts; its user (`$6`) is the code's.
            Some(refresh) => {
                debug_assert_eq!(refresh.grant.user_id, user_id);
                debug_assert_eq!(refresh.family_id, family_id);
                hot_write!(self,
                sqlite_atomic: concat!("SAVEPOINT w;
                    ", insert_consumed!("$4", "$6"), ";
                    ", insert_successor!(), " WHERE changes() = 1 RETURNING 1;
                    RELEASE w"),
                postgres: concat!("WITH consumed AS (", insert_consumed!("$4", "$6"), " RETURNING 1)
                    ", insert_successor!(), " FROM consumed RETURNING 1"),
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
