//! Sessions and their refresh tokens: opened, rotated and revoked inside a unit of work
//! (`SessionsUnit`), looked up and touched outside one (`SessionStore`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{IdentityId, PasskeyId, SessionId, UserId};
use tenantbase_domain::model::{Rotation, Session};

use crate::{StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: SessionId,
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub amr: Vec<String>,
    /// The linked identity an OpenID sign-in came through.
    pub identity_id: Option<IdentityId>,
    /// The passkey a sign-in passed with (alone, or as its second step).
    pub passkey_id: Option<PasskeyId>,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
}

/// A removable way to sign in that sessions remember having been opened by: removing it
/// ends them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenedBy {
    Identity(IdentityId),
    Passkey(PasskeyId),
}

/// What a sign-in's new session meets among the user's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInContext {
    /// Other live sessions beyond the account's limit, oldest last: to revoke.
    pub excess: Vec<SessionId>,
    /// Whether any other session of the user, live or ended, came from this device: the
    /// same device id when the sign-in sent one, else the same user agent and address.
    pub device_seen: bool,
    /// Whether the user had any other session before, live or ended: a first sign-in
    /// (an account a provider just made, say) has no earlier device to tell apart.
    pub signed_in_before: bool,
}

/// Sessions' part of a unit of work.
#[async_trait]
pub trait SessionsUnit: Send {
    /// Reads a session inside this transaction (never through the pool while holding a
    /// unit: concurrent units could exhaust it waiting on each other's locks).
    async fn session(&mut self, id: SessionId) -> StoreResult<Session>;

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

    /// A sign-in's session and its first refresh token (`create_session`), with what the
    /// sign-in must know, read after the inserts: the user's other live sessions beyond
    /// the newest `keep - 1` (with the new one, `keep` stay), and whether an earlier
    /// session of the user came from the same device. On SQLite one call to the writer;
    /// on PostgreSQL the read first takes the user's row lock, so concurrent sign-ins of
    /// one user take turns and none misses another's session.
    async fn create_sign_in_session(
        &mut self,
        session: NewSession,
        refresh_hash: &str,
        keep: usize,
        now: DateTime<Utc>,
    ) -> StoreResult<(Session, SignInContext)>;

    /// Revokes one session; `false` if it was already revoked or does not exist.
    async fn revoke_session(
        &mut self,
        id: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Records that the session's user proved who they are again (step-up) at `now`.
    async fn mark_reauthenticated(&mut self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()>;

    /// Revokes the live sessions of `user_id` opened by `opened_by`; returns their ids.
    async fn revoke_sessions_opened_by(
        &mut self,
        user_id: UserId,
        opened_by: OpenedBy,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionId>>;

    /// Revokes every live session of `user_id` but `keep`; returns how many.
    async fn revoke_user_sessions(
        &mut self,
        user_id: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

#[async_trait]
pub trait SessionStore: Send + Sync {
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
}

/// The columns of `sessions`, in `SessionRow`'s order.
pub const SESSION_COLUMNS: &str = "id, user_id, device_id, device_label, user_agent, ip, amr, \
     created_at, last_seen_at, idle_expires_at, absolute_expires_at, revoked_at, authenticated_at, \
     identity_id";

/// A row of `sessions`; `amr` is a JSON array.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub device_id: Option<String>,
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub amr: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub idle_expires_at: DateTime<Utc>,
    pub absolute_expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// NULL only for sessions opened before step-up existed: read as `created_at`.
    pub authenticated_at: Option<DateTime<Utc>>,
    pub identity_id: Option<uuid::Uuid>,
}

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;

    fn try_from(row: SessionRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: SessionId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            amr: serde_json::from_str(&row.amr)
                .map_err(|e| StoreError::Corrupt(format!("session amr: {e}")))?,
            device_id: row.device_id,
            device_label: row.device_label,
            user_agent: row.user_agent,
            ip: row.ip,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            idle_expires_at: row.idle_expires_at,
            absolute_expires_at: row.absolute_expires_at,
            revoked_at: row.revoked_at,
            authenticated_at: row.authenticated_at.unwrap_or(row.created_at),
            identity_id: row.identity_id.map(IdentityId::from_uuid),
        })
    }
}
