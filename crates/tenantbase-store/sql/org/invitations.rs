//! The statements on an org's invitations.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{InvitationId, UserId};
use tenantbase_domain::model::Invitation;
use tenantbase_store::StoreResult;
use tenantbase_store::org::invitations::{self, InvitationRow, InvitationsUnit};
use tenantbase_store::rows::to_json_text;

use super::OrgTx;

#[async_trait]
impl InvitationsUnit for OrgTx {
    async fn insert_invitation(
        &mut self,
        invitation: &Invitation,
        token_hash: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO invitations (org_id, token_hash, id, email, role_ids, any_email, invited_by, \
             created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(self.org_id())
        .bind(token_hash)
        .bind(invitation.id.as_uuid())
        .bind(&invitation.email)
        .bind(to_json_text(&invitation.role_ids))
        .bind(invitation.any_email)
        .bind(invitation.invited_by.as_uuid())
        .bind(invitation.created_at)
        .bind(invitation.expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn pending_invitations(&mut self, now: DateTime<Utc>) -> StoreResult<Vec<Invitation>> {
        let rows: Vec<InvitationRow> = sqlx::query_as(&format!(
            "SELECT {} FROM invitations WHERE org_id = $1 AND accepted_at IS NULL \
             AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id DESC",
            invitations::COLUMNS
        ))
        .bind(self.org_id())
        .bind(now)
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(Invitation::try_from).collect()
    }

    async fn invitation_by_token(&mut self, token_hash: &str) -> StoreResult<Option<Invitation>> {
        let row: Option<InvitationRow> = sqlx::query_as(&format!(
            "SELECT {} FROM invitations WHERE org_id = $1 AND token_hash = $2",
            invitations::COLUMNS
        ))
        .bind(self.org_id())
        .bind(token_hash)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(Invitation::try_from).transpose()
    }

    async fn revoke_invitation(
        &mut self,
        id: InvitationId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE invitations SET revoked_at = $3 \
             WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(changed.rows_affected() > 0)
    }

    async fn accept_invitation(
        &mut self,
        id: InvitationId,
        user: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE invitations SET accepted_at = $3, accepted_by = $4 \
             WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL \
             AND expires_at > $3",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(now)
        .bind(user.as_uuid())
        .execute(&mut *self.tx)
        .await?;
        Ok(changed.rows_affected() > 0)
    }
}
