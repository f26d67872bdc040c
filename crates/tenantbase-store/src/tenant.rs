//! Organizations and everything they own — roles, members, teams, invitations, API keys,
//! projects — read and written through a unit of work confined to one org.
//!
//! The only way to reach org-owned rows is `TenantStore::begin_org`/`read_org`, which take
//! an `OrgScope`; every statement behind `OrgUnit` filters by the scope's org, and on
//! PostgreSQL the transaction also sets `app.org_id`, which row-level security enforces.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::{ApiKeyId, InvitationId, ProjectId, RoleId, TeamId, UserId};
use tenantbase_domain::model::{Enqueued, Event};

use crate::platform::events::NewEvent;
use crate::platform::jobs::NewJob;
use crate::{OrgScope, StoreResult};

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

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub id: ProjectId,
    pub name: String,
    pub description: Option<String>,
    /// A JSON object.
    pub metadata: serde_json::Value,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// The order of a project list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProjectSort {
    #[default]
    CreatedAt,
    Name,
    /// Best full-text match first (only with a search query).
    Relevance,
}

/// Where the previous page of a project list ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectCursor {
    CreatedAt(DateTime<Utc>, ProjectId),
    Name(String, ProjectId),
    /// Relevance pages continue by position.
    Offset(u64),
}

#[derive(Debug, Clone, Default)]
pub struct ProjectQuery {
    pub include_deleted: bool,
    pub created_after: Option<DateTime<Utc>>,
    pub created_before: Option<DateTime<Utc>>,
    pub created_by: Option<UserId>,
    /// Full-text search over name and description: every word must match (as a prefix).
    pub search_words: Vec<String>,
    pub sort: ProjectSort,
    pub descending: bool,
    pub after: Option<ProjectCursor>,
    pub limit: u32,
}

/// A page of an org's audit log, newest first.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    pub event_type: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// Only events before this sequence number (the previous page's last).
    pub before_seq: Option<i64>,
    pub limit: u32,
}

/// An org of the user, with when they joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub org: Org,
    pub joined_at: DateTime<Utc>,
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// A read-write unit confined to `scope`'s org.
    async fn begin_org(&self, scope: &OrgScope) -> StoreResult<Box<dyn OrgUnit>>;

    /// A read-only unit confined to `scope`'s org. Writing through it fails. On SQLite it
    /// is a reader connection outside any transaction (it never waits for the writer, and
    /// each statement sees the latest commit, so a read of several statements may see
    /// a write land between them); on PostgreSQL a `READ ONLY` transaction.
    async fn read_org(&self, scope: &OrgScope) -> StoreResult<Box<dyn OrgUnit>>;

    /// The live orgs `user` is a member of, by org id after `after`.
    async fn orgs_of_user(
        &self,
        user: UserId,
        after: Option<OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<Membership>>;
}

/// A transaction on one org's rows. Dropping it without `commit` rolls it back.
#[async_trait]
pub trait OrgUnit: crate::FileUnit + Send {
    fn scope(&self) -> OrgScope;

    // The org itself.
    /// `NotFound` if there is no such org (deleted ones are returned, with `deleted_at`).
    async fn org(&mut self) -> StoreResult<Org>;
    /// Creates the scope's org; `Conflict` if the slug is taken.
    async fn create_org(&mut self, name: &str, slug: &str, created_by: UserId) -> StoreResult<Org>;
    async fn update_org(&mut self, name: &str, slug: &str) -> StoreResult<Org>;
    /// Locks the org's row until commit (PostgreSQL; SQLite units already hold the write
    /// lock), so checks that span rows — "is this the last owner?" — cannot interleave.
    async fn lock_org(&mut self) -> StoreResult<()>;
    async fn set_org_deleted(&mut self, deleted_at: Option<DateTime<Utc>>) -> StoreResult<()>;
    /// Removes the org and everything it owns, giving its creator the org's slot and
    /// stored bytes back. Its audit chain is kept: the record of what happened outlives
    /// the data.
    async fn purge_org(&mut self) -> StoreResult<()>;
    /// Counts the scope's org, about to be created, against `creator`'s orgs; `false`
    /// (nothing counted) if they have `cap` orgs already.
    async fn take_org_slot(&mut self, creator: UserId, cap: u32) -> StoreResult<bool>;

    // Roles.
    async fn roles(&mut self) -> StoreResult<Vec<Role>>;
    /// `Conflict` if the name is taken in this org.
    async fn insert_role(&mut self, role: &Role) -> StoreResult<()>;
    async fn update_role(&mut self, role: &Role) -> StoreResult<()>;
    async fn delete_role(&mut self, id: RoleId) -> StoreResult<()>;
    /// Granted to a member, a team or an invitation still pending at `now`.
    async fn role_in_use(&mut self, id: RoleId, now: DateTime<Utc>) -> StoreResult<bool>;

    // Members.
    async fn members(&mut self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<Member>>;
    async fn member(&mut self, user: UserId) -> StoreResult<Option<Member>>;
    /// `Conflict` if already a member.
    async fn add_member(&mut self, user: UserId, roles: &[RoleId]) -> StoreResult<()>;
    async fn set_member_roles(&mut self, user: UserId, roles: &[RoleId]) -> StoreResult<()>;
    /// Also removes them from the org's teams; `false` if not a member.
    async fn remove_member(&mut self, user: UserId) -> StoreResult<bool>;
    /// Every role `user` holds, directly or through teams; `None` if not a member.
    async fn roles_of_member(&mut self, user: UserId) -> StoreResult<Option<Vec<Role>>>;
    /// Members holding `role` directly.
    async fn members_with_role(&mut self, role: RoleId) -> StoreResult<Vec<UserId>>;

    // Teams.
    async fn teams(&mut self) -> StoreResult<Vec<Team>>;
    /// `Conflict` if the name is taken.
    async fn insert_team(&mut self, id: TeamId, name: &str) -> StoreResult<()>;
    async fn rename_team(&mut self, id: TeamId, name: &str) -> StoreResult<()>;
    async fn set_team_roles(&mut self, id: TeamId, roles: &[RoleId]) -> StoreResult<()>;
    async fn delete_team(&mut self, id: TeamId) -> StoreResult<()>;
    /// `Conflict` if already in the team.
    async fn add_team_member(&mut self, id: TeamId, user: UserId) -> StoreResult<()>;
    async fn remove_team_member(&mut self, id: TeamId, user: UserId) -> StoreResult<bool>;

    // Invitations.
    /// `token_hash` is the SHA-256 of the emailed token.
    async fn insert_invitation(
        &mut self,
        invitation: &Invitation,
        token_hash: &str,
    ) -> StoreResult<()>;
    /// Pending ones: not accepted, revoked or expired.
    async fn pending_invitations(&mut self, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>>;
    async fn invitation_by_token(&mut self, token_hash: &str) -> StoreResult<Option<Invitation>>;
    async fn revoke_invitation(
        &mut self,
        id: InvitationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// `false` unless it was still pending.
    async fn accept_invitation(
        &mut self,
        id: InvitationId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    // API keys.
    async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> StoreResult<()>;
    async fn api_keys(&mut self) -> StoreResult<Vec<ApiKey>>;
    async fn api_key_by_secret(&mut self, secret_hash: &str) -> StoreResult<Option<ApiKey>>;
    async fn revoke_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<bool>;
    async fn touch_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()>;

    // Projects.
    async fn insert_projects(&mut self, projects: &[Project]) -> StoreResult<()>;
    /// Deleted ones included; `NotFound` if not in this org.
    async fn project(&mut self, id: ProjectId) -> StoreResult<Project>;
    async fn update_project(&mut self, project: &Project) -> StoreResult<()>;
    /// Sets or clears `deleted_at` on every id; how many rows changed.
    async fn set_projects_deleted(
        &mut self,
        ids: &[ProjectId],
        deleted_at: Option<DateTime<Utc>>,
    ) -> StoreResult<u64>;
    async fn projects(&mut self, query: &ProjectQuery) -> StoreResult<Vec<Project>>;

    // The org's audit chain and jobs.
    /// The event must belong to this org (`Invalid` otherwise).
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<Event>;
    async fn events(&mut self, query: &EventQuery) -> StoreResult<Vec<Event>>;
    async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
