//! The members of an org and the roles granted to them directly.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{RoleId, UserId};
use tenantbase_domain::model::{Member, Role};
use uuid::Uuid;

use crate::StoreResult;

#[async_trait]
pub trait MembersUnit: Send {
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
}

/// A member's row joined with their user's; the roles come from a second statement.
#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    pub is_guest: bool,
    pub created_at: DateTime<Utc>,
}

impl MemberRow {
    /// The member, with the roles among `grants` (user id, role id) that are theirs.
    pub fn into_member(self, grants: &[(Uuid, Uuid)]) -> Member {
        Member {
            user_id: UserId::from_uuid(self.user_id),
            role_ids: grants
                .iter()
                .filter(|(user, _)| *user == self.user_id)
                .map(|(_, role)| RoleId::from_uuid(*role))
                .collect(),
            email: self.email,
            display_name: self.display_name,
            is_guest: self.is_guest,
            joined_at: self.created_at,
        }
    }
}
