//! Device authorization requests (RFC 8628 §3.2), polled by the device and approved by the
//! user on another screen.

use latchkey_protocol::secret::SecretHash;
use latchkey_protocol::{ClientId, UnixTime, UserId};

use crate::{Store, StoreError, on_pool, on_writer};

/// A stored device authorization request.
#[derive(Debug, Clone)]
pub struct DeviceCodeRow {
    /// The user code, normalised (upper case, no dash).
    pub user_code: String,
    /// The client that asked.
    pub client_id: ClientId,
    /// The scope asked for.
    pub scope: String,
    /// Expiry.
    pub expires_at: i64,
    /// Current polling interval, seconds.
    pub interval_secs: i64,
    /// Last poll.
    pub last_polled_at: Option<i64>,
    /// The user who decided.
    pub user_id: Option<UserId>,
    /// `allow` or `deny`, once decided.
    pub decision: Option<String>,
    /// When the tokens were issued.
    pub consumed_at: Option<i64>,
}

/// A new device authorization request.
#[derive(Debug, Clone)]
pub struct NewDeviceCode {
    /// Digest of the device code.
    pub hash: SecretHash,
    /// The user code, normalised.
    pub user_code: String,
    /// The client.
    pub client_id: ClientId,
    /// The scope.
    pub scope: String,
    /// Creation time.
    pub created_at: i64,
    /// Expiry.
    pub expires_at: i64,
    /// Polling interval.
    pub interval_secs: i64,
}

/// [`DeviceCodeRow`] as the database returns it, in the order of [`COLUMNS`].
#[derive(sqlx::FromRow)]
struct DeviceCodeColumns {
    user_code: String,
    client_id: String,
    scope: String,
    expires_at: i64,
    interval_secs: i64,
    last_polled_at: Option<i64>,
    user_id: Option<String>,
    decision: Option<String>,
    consumed_at: Option<i64>,
}

impl From<DeviceCodeColumns> for DeviceCodeRow {
    fn from(c: DeviceCodeColumns) -> DeviceCodeRow {
        DeviceCodeRow {
            user_code: c.user_code,
            client_id: c.client_id.into(),
            scope: c.scope,
            expires_at: c.expires_at,
            interval_secs: c.interval_secs,
            last_polled_at: c.last_polled_at,
            user_id: c.user_id.map(UserId::from),
            decision: c.decision,
            consumed_at: c.consumed_at,
        }
    }
}

const COLUMNS: &str =
    "user_code, client_id, scope, expires_at, interval_secs, last_polled_at, user_id, decision, consumed_at";

impl Store {
    /// Stores a device authorization request. `Conflict` if the user code is taken.
    pub async fn insert_device_code(&self, d: &NewDeviceCode) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query(
            "INSERT INTO device_codes (device_code_hash, user_code, client_id, scope, created_at, expires_at, interval_secs)
             VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(d.hash.as_bytes()).bind(&d.user_code).bind(d.client_id.as_str()).bind(&d.scope)
            .bind(d.created_at).bind(d.expires_at).bind(d.interval_secs)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The request with this device code digest.
    pub async fn device_code(&self, hash: &SecretHash) -> Result<Option<DeviceCodeRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM device_codes WHERE device_code_hash = $1");
        let row: Option<DeviceCodeColumns> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(hash.as_bytes()).fetch_optional(pool).await)?;
        Ok(row.map(DeviceCodeRow::from))
    }

    /// The live (unexpired, undecided) request with this user code.
    pub async fn device_code_by_user_code(
        &self,
        user_code: &str,
        now: UnixTime,
    ) -> Result<Option<DeviceCodeRow>, StoreError> {
        let sql =
            format!("SELECT {COLUMNS} FROM device_codes WHERE user_code = $1 AND expires_at > $2 AND decision IS NULL");
        let row: Option<DeviceCodeColumns> = on_pool!(self, pool => sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(user_code).bind(now).fetch_optional(pool).await)?;
        Ok(row.map(DeviceCodeRow::from))
    }

    /// Records the user's decision, once. False if already decided or expired.
    pub async fn decide_device_code(
        &self,
        user_code: &str,
        user_id: &UserId,
        decision: &str,
        now: UnixTime,
    ) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE device_codes SET user_id = $1, decision = $2 WHERE user_code = $3 AND decision IS NULL AND expires_at > $4")
            .bind(user_id.as_str()).bind(decision).bind(user_code).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Records a poll; with `slow_down`, also raises the interval by 5 s (RFC 8628 §3.5).
    pub async fn poll_device_code(&self, hash: &SecretHash, now: UnixTime, slow_down: bool) -> Result<(), StoreError> {
        let add: i64 = if slow_down { 5 } else { 0 };
        on_writer!(self, pool => sqlx::query(
            "UPDATE device_codes SET last_polled_at = $1, interval_secs = interval_secs + $2 WHERE device_code_hash = $3")
            .bind(now).bind(add).bind(hash.as_bytes()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks an approved request as redeemed. True for exactly one caller.
    pub async fn consume_device_code(&self, hash: &SecretHash, now: UnixTime) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query(
            "UPDATE device_codes SET consumed_at = $1 WHERE device_code_hash = $2 AND consumed_at IS NULL AND decision = 'allow'")
            .bind(now).bind(hash.as_bytes()).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}
