//! The statements on the org's own row, and the list of a user's orgs.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{Membership, Org};
use tenantbase_store::org::orgs::{self, MembershipRow, OrgRow, OrgsUnit};
use tenantbase_store::rows::found;
use tenantbase_store::{StoreError, StoreResult};

use super::{Conn, OrgTx, creators, now};

/// The live orgs of `user`. On PostgreSQL the caller has set `app.user_id`.
pub(crate) async fn orgs_of_user(
    conn: &mut Conn,
    user: UserId,
    after: Option<OrgId>,
    limit: u32,
) -> StoreResult<Vec<Membership>> {
    let rows: Vec<MembershipRow> = sqlx::query_as(
        "SELECT o.id, o.name, o.slug, o.created_by, o.created_at, o.updated_at, o.deleted_at, \
         o.require_mfa, \
         m.created_at AS joined_at \
         FROM org_members m JOIN organizations o ON o.id = m.org_id \
         WHERE m.user_id = $1 AND o.deleted_at IS NULL AND ($2 IS NULL OR o.id > $2) \
         ORDER BY o.id LIMIT $3",
    )
    .bind(user.as_uuid())
    .bind(after.map(|id| id.as_uuid()))
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Membership::from).collect())
}

#[async_trait]
impl OrgsUnit for OrgTx {
    async fn org(&mut self) -> StoreResult<Org> {
        let row: Option<OrgRow> = sqlx::query_as(&format!(
            "SELECT {} FROM organizations WHERE id = $1",
            orgs::COLUMNS
        ))
        .bind(self.org_id())
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(Org::from).ok_or(StoreError::NotFound)
    }

    async fn create_org(&mut self, name: &str, slug: &str, created_by: UserId) -> StoreResult<Org> {
        let now = now();
        sqlx::query(
            "INSERT INTO organizations (id, name, slug, created_by, created_at, updated_at, deleted_at) \
             VALUES ($1, $2, $3, $4, $5, $5, NULL)",
        )
        .bind(self.org_id())
        .bind(name)
        .bind(slug)
        .bind(created_by.as_uuid())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(Org {
            id: self.scope.org_id(),
            name: name.to_owned(),
            slug: slug.to_owned(),
            created_by,
            created_at: now,
            updated_at: now,
            deleted_at: None,
            require_mfa: false,
        })
    }

    async fn update_org(&mut self, name: &str, slug: &str, require_mfa: bool) -> StoreResult<Org> {
        let changed = sqlx::query(
            "UPDATE organizations SET name = $2, slug = $3, require_mfa = $5, updated_at = $4 \
             WHERE id = $1",
        )
        .bind(self.org_id())
        .bind(name)
        .bind(slug)
        .bind(now())
        .bind(require_mfa)
        .execute(&mut *self.tx)
        .await?;
        found(changed.rows_affected())?;
        self.org().await
    }

    async fn lock_org(&mut self) -> StoreResult<()> {
        sqlx::query(&format!(
            "SELECT id FROM organizations WHERE id = $1 {}",
            crate::dialect::USER_ROW_LOCK
        ))
        .bind(self.org_id())
        .fetch_optional(&mut *self.tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(())
    }

    async fn set_org_deleted(&mut self, deleted_at: Option<DateTime<Utc>>) -> StoreResult<()> {
        let changed =
            sqlx::query("UPDATE organizations SET deleted_at = $2, updated_at = $3 WHERE id = $1")
                .bind(self.org_id())
                .bind(deleted_at.map(|at| at.trunc_subsecs(6)))
                .bind(now())
                .execute(&mut *self.tx)
                .await?;
        found(changed.rows_affected())
    }

    async fn purge_org(&mut self) -> StoreResult<()> {
        // The org's row first, then its creator's: the order uploads take them in.
        self.lock_org().await?;
        let org = self.org_id();
        creators::release_org(&mut self.tx, org).await?;
        // Everything the org owns references it with ON DELETE CASCADE.
        let gone = sqlx::query("DELETE FROM organizations WHERE id = $1")
            .bind(org)
            .execute(&mut *self.tx)
            .await?;
        found(gone.rows_affected())
    }

    async fn take_org_slot(&mut self, creator: UserId, cap: u32) -> StoreResult<bool> {
        creators::take_org_slot(&mut self.tx, creator.as_uuid(), cap).await
    }
}
