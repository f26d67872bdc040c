//! Accounts, sessions, refresh tokens and signing keys as stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{SessionId, UserId};

use crate::StoreResult;

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

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: UserId,
    pub email: Option<String>,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub is_guest: bool,
}

/// One sign-in on one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub amr: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Not revoked and within both its idle and its absolute lifetime.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub amr: Vec<String>,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current: it is now used and `new_hash` replaces it.
    Rotated(SessionId),
    /// The token was used moments ago (within the grace period): a concurrent duplicate
    /// of a legitimate refresh, refused without punishing the session.
    RaceLost(SessionId),
    /// The token was used earlier: someone replays it (RFC 9700 reuse detection).
    Reused(SessionId),
    /// No such token.
    Unknown,
}

/// A token signing key as persisted; the private half is encrypted with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRow {
    pub kid: String,
    pub public_key: Vec<u8>,
    pub encrypted_private_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub retired_at: Option<DateTime<Utc>>,
}

#[async_trait]
pub trait IdentityStore: Send + Sync {
    /// By normalised email.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;

    async fn user_by_id(&self, id: UserId) -> StoreResult<User>;

    async fn session_by_id(&self, id: SessionId) -> StoreResult<Session>;

    /// The user's sessions that are not revoked, newest first.
    async fn live_sessions(&self, user_id: UserId, now: DateTime<Utc>)
    -> StoreResult<Vec<Session>>;

    /// Slides the session's idle expiry and records activity.
    async fn touch_session(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>>;

    /// The user a single-use token of `purpose` belongs to, if it is unused and unexpired
    /// (a look, not a use: `UnitOfWork::consume_user_token` uses it up).
    async fn user_token_owner(
        &self,
        token_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>>;
}
