//! Users and their profiles.

use super::records::{USER_COLUMNS, UserRow};
use super::{Store, StoreResult, on_pool, on_writer};
use crate::domain::{NewUser, User};

impl Store {
    /// Inserts a user; `StoreError::Conflict` when the username is taken.
    pub async fn insert_user(&self, u: &NewUser<'_>) -> StoreResult<i64> {
        let sql = "INSERT INTO users (username, username_key, username_skeleton, email, password_hash, created_at) \
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id";
        on_writer!(self, db => Ok(sqlx::query_scalar(sql)
            .bind(u.username)
            .bind(u.username_key)
            .bind(u.username_skeleton)
            .bind(u.email)
            .bind(u.password_hash)
            .bind(u.created_at)
            .fetch_one(&mut *db)
            .await?))
    }

    pub async fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        on_pool!(self, p => Ok(sqlx::query_as::<_, UserRow>(&sql).bind(id).fetch_optional(p).await?.map(Into::into)))
    }

    /// A user's name alone, as a consent page shows its client's author:
    /// cached (a rename flushes the cache, see `cache`).
    pub async fn username(&self, id: i64) -> StoreResult<Option<String>> {
        if let Some(name) = self.cache.username(id) {
            return Ok(Some(name));
        }
        let generation = self.cache.generation();
        let name: Option<String> = on_pool!(self, p => sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(p)
            .await?);
        if let Some(name) = &name {
            self.cache.insert_username(generation, id, name.clone());
        }
        Ok(name)
    }

    pub async fn user_by_username_key(&self, key: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username_key = $1");
        on_pool!(self, p => Ok(sqlx::query_as::<_, UserRow>(&sql).bind(key).fetch_optional(p).await?.map(Into::into)))
    }

    /// A user whose name is `key` or looks like it (`skeleton`).
    pub async fn user_by_username_skeleton(&self, key: &str, skeleton: &str) -> StoreResult<Option<User>> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username_key = $1 OR username_skeleton = $2 LIMIT 1");
        on_pool!(self, p => Ok(sqlx::query_as::<_, UserRow>(&sql)
            .bind(key)
            .bind(skeleton)
            .fetch_optional(p)
            .await?
            .map(Into::into)))
    }

    /// Updates the profile fields given; returns the user after the change.
    pub async fn update_profile(
        &self,
        id: i64,
        about: Option<&str>,
        status: Option<Option<&str>>,
    ) -> StoreResult<Option<User>> {
        let sql = format!(
            "UPDATE users SET about = COALESCE($2, about), \
             status = CASE WHEN $3 THEN $4 ELSE status END \
             WHERE id = $1 RETURNING {USER_COLUMNS}"
        );
        on_writer!(self, db => Ok(sqlx::query_as::<_, UserRow>(&sql)
            .bind(id)
            .bind(about)
            .bind(status.is_some())
            .bind(status.flatten())
            .fetch_optional(&mut *db)
            .await?
            .map(Into::into)))
    }

    /// Replaces a user's password hash with one of the same password made
    /// another way (an imported bcrypt hash upgraded at login), unless it
    /// changed meanwhile.
    pub async fn upgrade_password_hash(&self, id: i64, old: &str, new: &str) -> StoreResult<()> {
        let sql = "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2";
        on_writer!(self, db => sqlx::query(sql).bind(id).bind(old).bind(new).execute(&mut *db).await.map(|_| ())?);
        Ok(())
    }

    /// Operator action: sets a user's admin and banned flags (`None` keeps one).
    pub async fn set_user_flags(&self, key: &str, admin: Option<bool>, banned: Option<bool>) -> StoreResult<bool> {
        let sql = "UPDATE users SET is_admin = COALESCE($2, is_admin), is_banned = COALESCE($3, is_banned) \
                   WHERE username_key = $1";
        let changed = on_writer!(self, db => sqlx::query(sql).bind(key).bind(admin).bind(banned).execute(&mut *db).await?.rows_affected() > 0);
        if changed {
            self.credentials_changed();
        }
        Ok(changed)
    }
}
