//! The statements on user accounts.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::User;
use tenantbase_store::identity::UsersUnit;
use tenantbase_store::identity::users::{NewUser, USER_COLUMNS, UserRow};
use tenantbase_store::{StoreError, StoreResult};

use crate::dialect::{self, Db};
use crate::sql::Conn;
use crate::sql::platform::PlatformTx;

#[async_trait]
impl UsersUnit for PlatformTx {
    async fn user(&mut self, id: UserId) -> StoreResult<User> {
        user_by_id(&mut *self.tx, id).await
    }

    async fn lock_user(&mut self, id: UserId) -> StoreResult<User> {
        let user = lock_user(&mut self.tx, id).await?;
        self.locked_user = Some(id);
        Ok(user)
    }

    async fn create_user(&mut self, user: NewUser) -> StoreResult<User> {
        create_user(&mut self.tx, user).await
    }

    async fn mark_email_verified(
        &mut self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        mark_email_verified(&mut self.tx, user_id, now).await
    }

    async fn remove_sign_in_methods_but_password(&mut self, user_id: UserId) -> StoreResult<u64> {
        let mut removed = 0;
        for table in ["mfa_factors", "passkeys", "identities"] {
            removed += sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user_id.as_uuid())
                .execute(&mut *self.tx)
                .await?
                .rows_affected();
        }
        for codes in [
            "mfa_backup_codes",
            "mfa_email_codes",
            "mfa_step_up_email_codes",
        ] {
            sqlx::query(&format!("DELETE FROM {codes} WHERE user_id = $1"))
                .bind(user_id.as_uuid())
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(removed)
    }

    async fn set_password_hash(
        &mut self,
        user_id: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        set_password_hash(&mut self.tx, user_id, password_hash, now).await
    }

    async fn change_email(
        &mut self,
        user_id: UserId,
        email: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        change_email(&mut self.tx, user_id, email, now).await
    }

    async fn upgrade_guest(
        &mut self,
        user_id: UserId,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User> {
        upgrade_guest(&mut self.tx, user_id, email, password_hash, now).await
    }
}

pub(crate) async fn create_user(conn: &mut Conn, user: NewUser) -> StoreResult<User> {
    // Microseconds: what both databases keep, so the returned value equals a re-read.
    let now = Utc::now().trunc_subsecs(6);
    sqlx::query(
        "INSERT INTO users (id, email, display_name, password_hash, email_verified, is_guest, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(user.id.as_uuid())
    .bind(&user.email)
    .bind(&user.display_name)
    .bind(&user.password_hash)
    .bind(false)
    .bind(user.is_guest)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(User {
        id: user.id,
        email: user.email,
        display_name: user.display_name,
        password_hash: user.password_hash,
        email_verified: false,
        is_guest: user.is_guest,
        created_at: now,
    })
}

pub(crate) async fn mark_email_verified(
    conn: &mut Conn,
    user_id: UserId,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE users SET email_verified = $2, updated_at = $3 WHERE id = $1")
        .bind(user_id.as_uuid())
        .bind(true)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn set_password_hash(
    conn: &mut Conn,
    user_id: UserId,
    hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(user_id.as_uuid())
        .bind(hash)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn change_email(
    conn: &mut Conn,
    user_id: UserId,
    email: &str,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let changed = sqlx::query(
        "UPDATE users SET email = $2, email_verified = $3, updated_at = $4 \
         WHERE id = $1 AND is_guest = $5",
    )
    .bind(user_id.as_uuid())
    .bind(email)
    .bind(true)
    .bind(now)
    .bind(false)
    .execute(&mut *conn)
    .await?;
    if changed.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    user_by_id(&mut *conn, user_id).await
}

pub(crate) async fn upgrade_guest(
    conn: &mut Conn,
    user_id: UserId,
    email: &str,
    hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<User> {
    let upgraded = sqlx::query(
        "UPDATE users SET email = $2, password_hash = $3, is_guest = $4, updated_at = $5 \
         WHERE id = $1 AND is_guest = $6",
    )
    .bind(user_id.as_uuid())
    .bind(email)
    .bind(hash)
    .bind(false)
    .bind(now)
    .bind(true)
    .execute(&mut *conn)
    .await?;
    if upgraded.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    user_by_id(&mut *conn, user_id).await
}

pub(crate) async fn user_by_email<'e, E>(db: E, email: &str) -> StoreResult<Option<User>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {} FROM users WHERE email = $1",
        USER_COLUMNS
    ))
    .bind(email)
    .fetch_optional(db)
    .await?;
    Ok(row.map(User::from))
}

pub(crate) async fn lock_user(conn: &mut Conn, id: UserId) -> StoreResult<User> {
    let row: UserRow = sqlx::query_as(&format!(
        "SELECT {} FROM users WHERE id = $1 {}",
        USER_COLUMNS,
        dialect::USER_ROW_LOCK
    ))
    .bind(id.as_uuid())
    .fetch_one(&mut *conn)
    .await?;
    Ok(User::from(row))
}

pub(crate) async fn user_by_id<'e, E>(db: E, id: UserId) -> StoreResult<User>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let row: UserRow = sqlx::query_as(&format!("SELECT {} FROM users WHERE id = $1", USER_COLUMNS))
        .bind(id.as_uuid())
        .fetch_one(db)
        .await?;
    Ok(User::from(row))
}
