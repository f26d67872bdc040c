//! A user account as stored.

use chrono::{DateTime, Utc};

use crate::id::UserId;

/// A user account. Guests have no email and no password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Option<String>,
    pub display_name: String,
    /// argon2id PHC string.
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub is_guest: bool,
    pub created_at: DateTime<Utc>,
}
