//! The teams of an org: named groups of members that hold roles together.

use async_trait::async_trait;
use tenantbase_domain::id::{RoleId, TeamId, UserId};
use tenantbase_domain::model::Team;

use crate::StoreResult;

#[async_trait]
pub trait TeamsUnit: Send {
    async fn teams(&mut self) -> StoreResult<Vec<Team>>;
    /// `Conflict` if the name is taken.
    async fn insert_team(&mut self, id: TeamId, name: &str) -> StoreResult<()>;
    async fn rename_team(&mut self, id: TeamId, name: &str) -> StoreResult<()>;
    async fn set_team_roles(&mut self, id: TeamId, roles: &[RoleId]) -> StoreResult<()>;
    async fn delete_team(&mut self, id: TeamId) -> StoreResult<()>;
    /// `Conflict` if already in the team.
    async fn add_team_member(&mut self, id: TeamId, user: UserId) -> StoreResult<()>;
    async fn remove_team_member(&mut self, id: TeamId, user: UserId) -> StoreResult<bool>;
}
