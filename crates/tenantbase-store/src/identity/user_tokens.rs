//! Single-use tokens of a user (email verification, password reset, …), stored by hash:
//! issued and used up inside a unit of work (`UserTokensUnit`), looked at outside one
//! (`UserTokenStore`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::UserId;

use crate::StoreResult;

/// Single-use tokens' part of a unit of work.
#[async_trait]
pub trait UserTokensUnit: Send {
    /// Stores a single-use token (by hash) for `purpose`, invalidating the user's older
    /// unused tokens of the same purpose.
    async fn issue_user_token(
        &mut self,
        user_id: UserId,
        purpose: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Stores a single-use token (by hash) for `purpose` beside the user's other unused
    /// ones: each ends a flow of its own (a sign-in's login code), and one user may have
    /// two under way (two devices, two tabs).
    async fn add_user_token(
        &mut self,
        user_id: UserId,
        purpose: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Uses up every unused token of the user's for `purpose`; returns how many.
    async fn end_user_tokens(
        &mut self,
        user_id: UserId,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Uses up a token of `purpose` that is unused and unexpired; its user, or `None`.
    async fn consume_user_token(
        &mut self,
        token_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>>;
}

#[async_trait]
pub trait UserTokenStore: Send + Sync {
    /// The user a single-use token of `purpose` belongs to, if it is unused and unexpired
    /// (a look, not a use: `UserTokensUnit::consume_user_token` uses it up).
    async fn user_token_owner(
        &self,
        token_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>>;
}
