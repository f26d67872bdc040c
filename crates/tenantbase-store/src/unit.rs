//! Units of work: one transaction in which a change, its event and its follow-up jobs are
//! written together — all of them or none.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::JobId;
use tenantbase_domain::id::{SessionId, UserId};

use crate::StoreResult;
use crate::events::{Event, NewEvent};
use crate::identity::{NewSession, NewUser, Rotation, Session, SigningKeyRow, User};
use crate::jobs::{Enqueued, NewJob};

/// An open transaction. Dropping it without `commit` rolls everything back.
#[async_trait]
pub trait UnitOfWork: Send {
    /// Appends to the event's chain. Appends to one chain are serialized until commit, so
    /// concurrent units keep it a single unbroken chain.
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<Event>;

    async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued>;

    /// Puts a dead job back in the queue with fresh attempts; `NotFound` unless dead.
    async fn retry_job(&mut self, id: JobId, now: DateTime<Utc>) -> StoreResult<()>;

    /// Removes the events of `chain` up to `through_seq` and records the last one's hash
    /// as the chain's anchor. Used once those events are safely archived.
    async fn truncate_chain(
        &mut self,
        chain: &str,
        through_seq: i64,
        through_hash: &str,
    ) -> StoreResult<u64>;

    /// Reads a session inside this transaction (never through the pool while holding a
    /// unit: concurrent units could exhaust it waiting on each other's locks).
    async fn session(&mut self, id: SessionId) -> StoreResult<Session>;

    async fn user(&mut self, id: UserId) -> StoreResult<User>;

    /// Reads a user and, on PostgreSQL, locks the row until commit (SQLite units hold
    /// the write lock already), so password changes and sign-ins serialize on it.
    async fn lock_user(&mut self, id: UserId) -> StoreResult<User>;

    /// `Conflict` (constraint on email) when the email is taken.
    async fn create_user(&mut self, user: NewUser) -> StoreResult<User>;

    /// A session and its first refresh token (stored as `refresh_hash`).
    async fn create_session(
        &mut self,
        session: NewSession,
        refresh_hash: &str,
    ) -> StoreResult<Session>;

    /// Marks `old_hash` used and stores `new_hash` for the same session. Of concurrent
    /// presentations of one token exactly one rotates it (the row lock, or SQLite's one
    /// writer, serializes them); a token used less than `grace` ago is a lost race, an
    /// older use is reuse.
    async fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        new_hash: &str,
        grace: std::time::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Rotation>;

    /// Revokes one session; `false` if it was already revoked or does not exist.
    async fn revoke_session(
        &mut self,
        id: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Revokes every live session of `user_id` but `keep`; returns how many.
    async fn revoke_user_sessions(
        &mut self,
        user_id: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Stores a single-use token (by hash) for `purpose`, invalidating the user's older
    /// unused tokens of the same purpose.
    async fn issue_user_token(
        &mut self,
        user_id: UserId,
        purpose: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Uses up a token of `purpose` that is unused and unexpired; its user, or `None`.
    async fn consume_user_token(
        &mut self,
        token_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>>;

    async fn mark_email_verified(&mut self, user_id: UserId, now: DateTime<Utc>)
    -> StoreResult<()>;

    async fn set_password_hash(
        &mut self,
        user_id: UserId,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// Gives a guest an email and password, keeping its id; `Conflict` if the email is taken.
    async fn upgrade_guest(
        &mut self,
        user_id: UserId,
        email: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<User>;

    async fn insert_signing_key(&mut self, key: SigningKeyRow) -> StoreResult<()>;

    async fn retire_signing_key(&mut self, kid: &str, now: DateTime<Utc>) -> StoreResult<()>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

#[async_trait]
pub trait TxStore: Send + Sync {
    async fn begin(&self) -> StoreResult<Box<dyn UnitOfWork>>;
}
