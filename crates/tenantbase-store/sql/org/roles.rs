//! The statements on an org's roles.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::RoleId;
use tenantbase_domain::model::Role;
use tenantbase_store::StoreResult;
use tenantbase_store::org::roles::{self, RoleRow, RolesUnit};
use tenantbase_store::rows::{found, to_json_text};
use uuid::Uuid;

use super::{Conn, OrgTx};

/// The roles `sql` selects; it binds the org as `$1` and `user` (possibly none) as `$2`.
pub(super) async fn role_rows(
    conn: &mut Conn,
    sql: &str,
    org: Uuid,
    user: Option<Uuid>,
) -> StoreResult<Vec<Role>> {
    let rows: Vec<RoleRow> = sqlx::query_as(sql)
        .bind(org)
        .bind(user)
        .fetch_all(&mut *conn)
        .await?;
    rows.into_iter().map(Role::try_from).collect()
}

#[async_trait]
impl RolesUnit for OrgTx {
    async fn roles(&mut self) -> StoreResult<Vec<Role>> {
        let org = self.org_id();
        role_rows(
            &mut self.tx,
            &format!(
                "SELECT {} FROM org_roles WHERE org_id = $1 AND $2 IS NULL ORDER BY created_at, id",
                roles::COLUMNS
            ),
            org,
            None,
        )
        .await
    }

    async fn insert_role(&mut self, role: &Role) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO org_roles (org_id, {}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            roles::COLUMNS
        ))
        .bind(self.org_id())
        .bind(role.id.as_uuid())
        .bind(&role.name)
        .bind(&role.description)
        .bind(to_json_text(&role.permissions))
        .bind(role.builtin)
        .bind(role.created_at)
        .bind(role.updated_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn update_role(&mut self, role: &Role) -> StoreResult<()> {
        let changed = sqlx::query(
            "UPDATE org_roles SET name = $3, description = $4, permissions = $5, updated_at = $6 \
             WHERE org_id = $1 AND id = $2 AND builtin = $7",
        )
        .bind(self.org_id())
        .bind(role.id.as_uuid())
        .bind(&role.name)
        .bind(&role.description)
        .bind(to_json_text(&role.permissions))
        .bind(role.updated_at)
        .bind(false)
        .execute(&mut *self.tx)
        .await?;
        found(changed.rows_affected())
    }

    async fn delete_role(&mut self, id: RoleId) -> StoreResult<()> {
        let gone =
            sqlx::query("DELETE FROM org_roles WHERE org_id = $1 AND id = $2 AND builtin = $3")
                .bind(self.org_id())
                .bind(id.as_uuid())
                .bind(false)
                .execute(&mut *self.tx)
                .await?;
        found(gone.rows_affected())
    }

    async fn role_in_use(&mut self, id: RoleId, now: DateTime<Utc>) -> StoreResult<bool> {
        let (uses,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM member_roles WHERE org_id = $1 AND role_id = $2) \
             + (SELECT COUNT(*) FROM team_roles WHERE org_id = $1 AND role_id = $2) \
             + (SELECT COUNT(*) FROM invitations WHERE org_id = $1 AND accepted_at IS NULL \
                AND revoked_at IS NULL AND expires_at > $4 AND role_ids LIKE $3)",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(format!("%\"{id}\"%"))
        .bind(now)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(uses > 0)
    }
}
