//! Sign-in sessions and what presenting one of their refresh tokens did.

use chrono::{DateTime, Utc};

use crate::id::{IdentityId, SessionId, UserId};

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
    /// When the user last proved who they are in this session: at sign-in, or later by
    /// reauthenticating (step-up). Claim `auth_time` of its access tokens.
    pub authenticated_at: DateTime<Utc>,
    /// The linked identity an OpenID sign-in opened it through: unlinking that identity
    /// ends the session. `None` for every other way to sign in.
    pub identity_id: Option<IdentityId>,
}

impl Session {
    /// Not revoked and within both its idle and its absolute lifetime.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }
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
