//! Resource owners: user accounts with Argon2id password hashes (PHC strings).

use latchkey_protocol::UserId;

use crate::{Store, StoreError, on_pool, on_writer};

/// A user account.
#[derive(Clone, sqlx::FromRow)]
pub struct User {
    /// Stable identifier, the `sub` of tokens.
    #[sqlx(try_from = "String")]
    pub id: UserId,
    /// Login name, unique.
    pub username: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Unix time of creation.
    pub created_at: i64,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User").field("id", &self.id).field("username", &self.username).finish_non_exhaustive()
    }
}

impl Store {
    /// Adds a user. `Conflict` if the username is taken.
    pub async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        on_writer!(self, pool => sqlx::query("INSERT INTO users (id, username, password_hash, created_at) VALUES ($1, $2, $3, $4)")
            .bind(u.id.as_str()).bind(&u.username).bind(&u.password_hash).bind(u.created_at).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// The user with this username.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as("SELECT id, username, password_hash, created_at FROM users WHERE username = $1")
            .bind(username).fetch_optional(pool).await)?,
        )
    }

    /// The user with this id.
    pub async fn user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as("SELECT id, username, password_hash, created_at FROM users WHERE id = $1")
            .bind(id.as_str()).fetch_optional(pool).await)?,
        )
    }

    /// Every user, by username.
    pub async fn users(&self) -> Result<Vec<User>, StoreError> {
        Ok(
            on_pool!(self, pool => sqlx::query_as("SELECT id, username, password_hash, created_at FROM users ORDER BY username")
            .fetch_all(pool).await)?,
        )
    }

    /// Removes a user with their sessions, consents, codes and tokens. False if absent.
    pub async fn delete_user(&self, username: &str) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query("DELETE FROM users WHERE username = $1").bind(username).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }

    /// Replaces a user's password hash. False if absent.
    pub async fn set_password_hash(&self, username: &str, hash: &str) -> Result<bool, StoreError> {
        let n = on_writer!(self, pool => sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
            .bind(hash).bind(username).execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(n > 0)
    }
}
