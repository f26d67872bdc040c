//! Invitations to an org, each redeemed by a token that is stored only as a hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{InvitationId, UserId};
use tenantbase_domain::model::Invitation;
use uuid::Uuid;

use crate::rows::json_column;
use crate::{StoreError, StoreResult};

/// The columns of `invitations` that `InvitationRow` reads, in its order.
pub const COLUMNS: &str = "id, email, role_ids, any_email, invited_by, created_at, \
     expires_at, accepted_at, revoked_at";

#[async_trait]
pub trait InvitationsUnit: Send {
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
}

#[derive(Debug, sqlx::FromRow)]
pub struct InvitationRow {
    pub id: Uuid,
    pub email: String,
    pub role_ids: String,
    pub any_email: bool,
    pub invited_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<InvitationRow> for Invitation {
    type Error = StoreError;

    fn try_from(row: InvitationRow) -> Result<Self, Self::Error> {
        Ok(Invitation {
            id: InvitationId::from_uuid(row.id),
            role_ids: json_column(&row.role_ids, "invitation roles")?,
            email: row.email,
            any_email: row.any_email,
            invited_by: UserId::from_uuid(row.invited_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
            accepted_at: row.accepted_at,
            revoked_at: row.revoked_at,
        })
    }
}
