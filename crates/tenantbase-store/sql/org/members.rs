//! The statements on an org's members and the roles granted to them directly.

use async_trait::async_trait;
use tenantbase_domain::id::{RoleId, UserId};
use tenantbase_domain::model::{Member, Role};
use tenantbase_store::StoreResult;
use tenantbase_store::org::members::{MemberRow, MembersUnit};
use tenantbase_store::org::roles;
use uuid::Uuid;

use super::roles::role_rows;
use super::{Conn, OrgTx, now};

/// Members of `org` (with their direct roles): only `only` if given, after `after`.
async fn member_page(
    conn: &mut Conn,
    org: Uuid,
    only: Option<Uuid>,
    after: Option<Uuid>,
    limit: u32,
) -> StoreResult<Vec<Member>> {
    let rows: Vec<MemberRow> = sqlx::query_as(
        "SELECT m.user_id, u.email, u.display_name, u.is_guest, m.created_at \
         FROM org_members m JOIN users u ON u.id = m.user_id \
         WHERE m.org_id = $1 AND ($2 IS NULL OR m.user_id = $2) AND ($3 IS NULL OR m.user_id > $3) \
         ORDER BY m.user_id LIMIT $4",
    )
    .bind(org)
    .bind(only)
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Vec::new());
    };
    let grants: Vec<(Uuid, Uuid)> = sqlx::query_as(
        "SELECT user_id, role_id FROM member_roles \
         WHERE org_id = $1 AND user_id >= $2 AND user_id <= $3",
    )
    .bind(org)
    .bind(first.user_id)
    .bind(last.user_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| row.into_member(&grants))
        .collect())
}

async fn grant_member_roles(
    conn: &mut Conn,
    org: Uuid,
    user: Uuid,
    roles: &[RoleId],
) -> StoreResult<()> {
    for role in roles {
        sqlx::query("INSERT INTO member_roles (org_id, user_id, role_id) VALUES ($1, $2, $3)")
            .bind(org)
            .bind(user)
            .bind(role.as_uuid())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[async_trait]
impl MembersUnit for OrgTx {
    async fn members(&mut self, after: Option<UserId>, limit: u32) -> StoreResult<Vec<Member>> {
        let org = self.org_id();
        member_page(&mut self.tx, org, None, after.map(|id| id.as_uuid()), limit).await
    }

    async fn member(&mut self, user: UserId) -> StoreResult<Option<Member>> {
        let org = self.org_id();
        Ok(
            member_page(&mut self.tx, org, Some(user.as_uuid()), None, 1)
                .await?
                .pop(),
        )
    }

    async fn add_member(&mut self, user: UserId, roles: &[RoleId]) -> StoreResult<()> {
        let org = self.org_id();
        sqlx::query("INSERT INTO org_members (org_id, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(org)
            .bind(user.as_uuid())
            .bind(now())
            .execute(&mut *self.tx)
            .await?;
        grant_member_roles(&mut self.tx, org, user.as_uuid(), roles).await
    }

    async fn set_member_roles(&mut self, user: UserId, roles: &[RoleId]) -> StoreResult<()> {
        let org = self.org_id();
        sqlx::query("DELETE FROM member_roles WHERE org_id = $1 AND user_id = $2")
            .bind(org)
            .bind(user.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        grant_member_roles(&mut self.tx, org, user.as_uuid(), roles).await
    }

    async fn remove_member(&mut self, user: UserId) -> StoreResult<bool> {
        let gone = sqlx::query("DELETE FROM org_members WHERE org_id = $1 AND user_id = $2")
            .bind(self.org_id())
            .bind(user.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        Ok(gone.rows_affected() > 0)
    }

    async fn roles_of_member(&mut self, user: UserId) -> StoreResult<Option<Vec<Role>>> {
        let org = self.org_id();
        let member: Option<(Uuid,)> =
            sqlx::query_as("SELECT user_id FROM org_members WHERE org_id = $1 AND user_id = $2")
                .bind(org)
                .bind(user.as_uuid())
                .fetch_optional(&mut *self.tx)
                .await?;
        if member.is_none() {
            return Ok(None);
        }
        let roles = role_rows(
            &mut self.tx,
            &format!(
                "SELECT {} FROM org_roles WHERE org_id = $1 AND (\
                 id IN (SELECT role_id FROM member_roles WHERE org_id = $1 AND user_id = $2) \
                 OR id IN (SELECT r.role_id FROM team_roles r JOIN team_members m \
                   ON m.org_id = r.org_id AND m.team_id = r.team_id \
                   WHERE r.org_id = $1 AND m.user_id = $2)) \
                 ORDER BY created_at, id",
                roles::COLUMNS
            ),
            org,
            Some(user.as_uuid()),
        )
        .await?;
        Ok(Some(roles))
    }

    async fn members_with_role(&mut self, role: RoleId) -> StoreResult<Vec<UserId>> {
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT user_id FROM member_roles WHERE org_id = $1 AND role_id = $2 ORDER BY user_id",
        )
        .bind(self.org_id())
        .bind(role.as_uuid())
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id,)| UserId::from_uuid(id))
            .collect())
    }
}
