//! The org itself: its row, its lifecycle (soft delete, purge) and the slot it takes in
//! its creator's count of orgs.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{Membership, Org};
use uuid::Uuid;

use crate::StoreResult;

/// The columns of `organizations`, in the order of `OrgRow`.
pub const COLUMNS: &str =
    "id, name, slug, created_by, created_at, updated_at, deleted_at, require_mfa";

#[async_trait]
pub trait OrgsUnit: Send {
    /// `NotFound` if there is no such org (deleted ones are returned, with `deleted_at`).
    async fn org(&mut self) -> StoreResult<Org>;
    /// Creates the scope's org; `Conflict` if the slug is taken.
    async fn create_org(&mut self, name: &str, slug: &str, created_by: UserId) -> StoreResult<Org>;
    async fn update_org(&mut self, name: &str, slug: &str, require_mfa: bool) -> StoreResult<Org>;
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
}

#[derive(Debug, sqlx::FromRow)]
pub struct OrgRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub require_mfa: bool,
}

impl From<OrgRow> for Org {
    fn from(row: OrgRow) -> Self {
        Org {
            id: OrgId::from_uuid(row.id),
            name: row.name,
            slug: row.slug,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            updated_at: row.updated_at,
            deleted_at: row.deleted_at,
            require_mfa: row.require_mfa,
        }
    }
}

/// An org's row with when the user joined it.
#[derive(Debug, sqlx::FromRow)]
pub struct MembershipRow {
    #[sqlx(flatten)]
    pub org: OrgRow,
    pub joined_at: DateTime<Utc>,
}

impl From<MembershipRow> for Membership {
    fn from(row: MembershipRow) -> Self {
        Membership {
            joined_at: row.joined_at,
            org: Org::from(row.org),
        }
    }
}
