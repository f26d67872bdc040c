//! An organization and what decides who may do what in it: its roles, members, teams,
//! invitations and API keys.

use chrono::{DateTime, Utc};

use crate::OrgId;
use crate::id::{ApiKeyId, InvitationId, RoleId, TeamId, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Org {
    pub id: OrgId,
    pub name: String,
    pub slug: String,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set while the org is soft-deleted and restorable.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Members act in the org only from sessions signed in with a second factor.
    pub require_mfa: bool,
}

/// An org of the user, with when they joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub org: Org,
    pub joined_at: DateTime<Utc>,
}

/// A role of one org. Built-in roles are seeded when the org is created and never change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    /// Permission names from the catalog.
    pub permissions: Vec<String>,
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A member with the roles granted to them directly (not through teams).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user_id: UserId,
    pub email: Option<String>,
    pub display_name: String,
    pub is_guest: bool,
    pub role_ids: Vec<RoleId>,
    pub joined_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub role_ids: Vec<RoleId>,
    pub member_ids: Vec<UserId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: InvitationId,
    /// Normalised email of the invitee.
    pub email: String,
    pub role_ids: Vec<RoleId>,
    /// The inviter allowed any signed-in account to accept, whatever its email.
    pub any_email: bool,
    pub invited_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An API key; its secret is stored only as a SHA-256 hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The first characters of the secret, for recognising a key in a list.
    pub prefix: String,
    pub permissions: Vec<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}
