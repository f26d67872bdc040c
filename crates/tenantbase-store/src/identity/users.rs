//! User accounts: created, read, locked and changed inside a unit of work (`UsersUnit`),
//! looked up outside one (`UserStore`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::User;

use crate::StoreResult;

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Option<String>,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub is_guest: bool,
}

/// Accounts' part of a unit of work.
#[async_trait]
pub trait UsersUnit: Send {
    async fn user(&mut self, id: UserId) -> StoreResult<User>;

    /// Reads a user and, on PostgreSQL, locks the row until commit (SQLite units hold
    /// the write lock already), so password changes and sign-ins serialize on it.
    async fn lock_user(&mut self, id: UserId) -> StoreResult<User>;

    /// `Conflict` (constraint on email) when the email is taken.
    async fn create_user(&mut self, user: NewUser) -> StoreResult<User>;

    async fn mark_email_verified(&mut self, user_id: UserId, now: DateTime<Utc>)
    -> StoreResult<()>;

    /// Removes every way the user has to sign in besides the password — second factors
    /// (pending ones too), backup and emailed codes, passkeys, linked identities — and
    /// returns how many factors, passkeys and identities went.
    async fn remove_sign_in_methods_but_password(&mut self, user_id: UserId) -> StoreResult<u64>;

    async fn set_password_hash(
        &mut self,
        user_id: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Gives a full account (not a guest) the address `email`, verified: the user proved
    /// it by following a link mailed there. `Conflict` if another account has it;
    /// `NotFound` for a guest.
    async fn change_email(
        &mut self,
        user_id: UserId,
        email: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User>;

    /// Gives a guest an email and password, keeping its id; `Conflict` if the email is taken.
    async fn upgrade_guest(
        &mut self,
        user_id: UserId,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User>;
}

#[async_trait]
pub trait UserStore: Send + Sync {
    /// By normalised email.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    async fn user_by_id(&self, id: UserId) -> StoreResult<User>;
}

/// The columns of `users` that make a `User`, in `UserRow`'s order.
pub const USER_COLUMNS: &str =
    "id, email, display_name, password_hash, email_verified, is_guest, created_at";

/// A row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: uuid::Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub is_guest: bool,
    pub created_at: DateTime<Utc>,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: UserId::from_uuid(row.id),
            email: row.email,
            display_name: row.display_name,
            password_hash: row.password_hash,
            email_verified: row.email_verified,
            is_guest: row.is_guest,
            created_at: row.created_at,
        }
    }
}
