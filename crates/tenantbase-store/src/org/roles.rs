//! The roles of an org: named sets of permissions, granted to members, teams and
//! invitations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::RoleId;
use tenantbase_domain::model::Role;
use uuid::Uuid;

use crate::rows::json_column;
use crate::{StoreError, StoreResult};

/// The columns of `org_roles` but `org_id`, in the order of `RoleRow`.
pub const COLUMNS: &str = "id, name, description, permissions, builtin, created_at, updated_at";

#[async_trait]
pub trait RolesUnit: Send {
    async fn roles(&mut self) -> StoreResult<Vec<Role>>;
    /// `Conflict` if the name is taken in this org.
    async fn insert_role(&mut self, role: &Role) -> StoreResult<()>;
    async fn update_role(&mut self, role: &Role) -> StoreResult<()>;
    async fn delete_role(&mut self, id: RoleId) -> StoreResult<()>;
    /// Granted to a member, a team or an invitation still pending at `now`.
    async fn role_in_use(&mut self, id: RoleId, now: DateTime<Utc>) -> StoreResult<bool>;
}

#[derive(Debug, sqlx::FromRow)]
pub struct RoleRow {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub permissions: String,
    pub builtin: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<RoleRow> for Role {
    type Error = StoreError;

    fn try_from(row: RoleRow) -> Result<Self, Self::Error> {
        Ok(Role {
            id: RoleId::from_uuid(row.id),
            permissions: json_column(&row.permissions, "role permissions")?,
            name: row.name,
            description: row.description,
            builtin: row.builtin,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
