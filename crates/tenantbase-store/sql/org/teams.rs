//! The statements on an org's teams, their roles and their members.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{RoleId, TeamId, UserId};
use tenantbase_domain::model::Team;
use tenantbase_store::StoreResult;
use tenantbase_store::org::teams::TeamsUnit;
use tenantbase_store::rows::found;
use uuid::Uuid;

use super::{OrgTx, now};

#[async_trait]
impl TeamsUnit for OrgTx {
    async fn teams(&mut self) -> StoreResult<Vec<Team>> {
        let org = self.org_id();
        let teams: Vec<(Uuid, String, DateTime<Utc>)> = sqlx::query_as(
            "SELECT id, name, created_at FROM teams WHERE org_id = $1 ORDER BY name, id",
        )
        .bind(org)
        .fetch_all(&mut *self.tx)
        .await?;
        let roles: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT team_id, role_id FROM team_roles WHERE org_id = $1 ORDER BY role_id",
        )
        .bind(org)
        .fetch_all(&mut *self.tx)
        .await?;
        let members: Vec<(Uuid, Uuid)> = sqlx::query_as(
            "SELECT team_id, user_id FROM team_members WHERE org_id = $1 ORDER BY user_id",
        )
        .bind(org)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(teams
            .into_iter()
            .map(|(id, name, created_at)| Team {
                id: TeamId::from_uuid(id),
                name,
                role_ids: roles
                    .iter()
                    .filter(|(t, _)| *t == id)
                    .map(|(_, r)| RoleId::from_uuid(*r))
                    .collect(),
                member_ids: members
                    .iter()
                    .filter(|(t, _)| *t == id)
                    .map(|(_, u)| UserId::from_uuid(*u))
                    .collect(),
                created_at,
            })
            .collect())
    }

    async fn insert_team(&mut self, id: TeamId, name: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO teams (id, org_id, name, created_at) VALUES ($1, $2, $3, $4)")
            .bind(id.as_uuid())
            .bind(self.org_id())
            .bind(name)
            .bind(now())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn rename_team(&mut self, id: TeamId, name: &str) -> StoreResult<()> {
        let changed = sqlx::query("UPDATE teams SET name = $3 WHERE org_id = $1 AND id = $2")
            .bind(self.org_id())
            .bind(id.as_uuid())
            .bind(name)
            .execute(&mut *self.tx)
            .await?;
        found(changed.rows_affected())
    }

    async fn set_team_roles(&mut self, id: TeamId, roles: &[RoleId]) -> StoreResult<()> {
        let org = self.org_id();
        sqlx::query("DELETE FROM team_roles WHERE org_id = $1 AND team_id = $2")
            .bind(org)
            .bind(id.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        for role in roles {
            sqlx::query("INSERT INTO team_roles (org_id, team_id, role_id) VALUES ($1, $2, $3)")
                .bind(org)
                .bind(id.as_uuid())
                .bind(role.as_uuid())
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(())
    }

    async fn delete_team(&mut self, id: TeamId) -> StoreResult<()> {
        let gone = sqlx::query("DELETE FROM teams WHERE org_id = $1 AND id = $2")
            .bind(self.org_id())
            .bind(id.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        found(gone.rows_affected())
    }

    async fn add_team_member(&mut self, id: TeamId, user: UserId) -> StoreResult<()> {
        sqlx::query("INSERT INTO team_members (org_id, team_id, user_id) VALUES ($1, $2, $3)")
            .bind(self.org_id())
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn remove_team_member(&mut self, id: TeamId, user: UserId) -> StoreResult<bool> {
        let gone = sqlx::query(
            "DELETE FROM team_members WHERE org_id = $1 AND team_id = $2 AND user_id = $3",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .execute(&mut *self.tx)
        .await?;
        Ok(gone.rows_affected() > 0)
    }
}
