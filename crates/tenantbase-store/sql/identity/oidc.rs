//! The statements on OpenID Connect identities and flows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{IdentityId, UserId};
use tenantbase_domain::model::LinkedIdentity;
use tenantbase_store::StoreResult;
use tenantbase_store::identity::OidcUnit;
use tenantbase_store::identity::oidc::{
    IDENTITY_COLUMNS, IdentityRow, LINK_CODE_COLUMNS, OIDC_FLOW_COLUMNS, OidcFlow, OidcFlowRow,
    PendingLink, PendingLinkRow,
};

use crate::dialect::Db;
use crate::sql::identity::retention::{SWEEP_ON_INSERT, delete_expired};
use crate::sql::platform::PlatformTx;

#[async_trait]
impl OidcUnit for PlatformTx {
    async fn insert_oidc_flow(&mut self, flow: &OidcFlow) -> StoreResult<()> {
        // Abandoned flows go with the next ones started, so the table stays small.
        delete_expired(
            &mut *self.tx,
            "oidc_flows",
            "state_hash",
            "expires_at",
            flow.created_at,
            SWEEP_ON_INSERT,
        )
        .await?;
        sqlx::query(&format!(
            "INSERT INTO oidc_flows ({OIDC_FLOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&flow.state_hash)
        .bind(&flow.provider)
        .bind(flow.user_id.map(|id| id.as_uuid()))
        .bind(flow.session_id.map(|id| id.as_uuid()))
        .bind(&flow.redirect_uri)
        .bind(&flow.app_challenge)
        .bind(flow.created_at)
        .bind(flow.expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn take_oidc_flow(
        &mut self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OidcFlow>> {
        let taken: Vec<OidcFlowRow> = sqlx::query_as(&format!(
            "DELETE FROM oidc_flows WHERE state_hash = $1 RETURNING {OIDC_FLOW_COLUMNS}"
        ))
        .bind(state_hash)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(taken
            .into_iter()
            .map(OidcFlow::from)
            .find(|flow| flow.expires_at > now))
    }

    async fn insert_link_code(&mut self, link: &PendingLink) -> StoreResult<()> {
        // Unconfirmed links go with the next ones, so the table stays small.
        delete_expired(
            &mut *self.tx,
            "oidc_link_codes",
            "code_hash",
            "expires_at",
            link.created_at,
            SWEEP_ON_INSERT,
        )
        .await?;
        sqlx::query(&format!(
            "INSERT INTO oidc_link_codes ({LINK_CODE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(&link.code_hash)
        .bind(link.user_id.as_uuid())
        .bind(link.session_id.as_uuid())
        .bind(&link.provider)
        .bind(&link.issuer)
        .bind(&link.subject)
        .bind(&link.email)
        .bind(link.created_at)
        .bind(link.expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn take_link_code(
        &mut self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PendingLink>> {
        let taken: Vec<PendingLinkRow> = sqlx::query_as(&format!(
            "DELETE FROM oidc_link_codes WHERE code_hash = $1 RETURNING {LINK_CODE_COLUMNS}"
        ))
        .bind(code_hash)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(taken
            .into_iter()
            .map(PendingLink::from)
            .find(|link| link.expires_at > now))
    }

    async fn identity_by_subject(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<LinkedIdentity>> {
        let row: Option<IdentityRow> = sqlx::query_as(&format!(
            "SELECT {IDENTITY_COLUMNS} FROM identities WHERE issuer = $1 AND subject = $2"
        ))
        .bind(issuer)
        .bind(subject)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(Into::into))
    }

    async fn insert_identity(&mut self, identity: &LinkedIdentity) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO identities ({IDENTITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(identity.id.as_uuid())
        .bind(identity.user_id.as_uuid())
        .bind(&identity.provider)
        .bind(&identity.issuer)
        .bind(&identity.subject)
        .bind(&identity.email)
        .bind(identity.created_at)
        .bind(identity.last_used_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn touch_identity(&mut self, id: IdentityId, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE identities SET last_used_at = $2 WHERE id = $1")
            .bind(id.as_uuid())
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn user_identities(&mut self, user_id: UserId) -> StoreResult<Vec<LinkedIdentity>> {
        identities_of(&mut *self.tx, user_id).await
    }

    async fn delete_identity(&mut self, id: IdentityId, user_id: UserId) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM identities WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user_id.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }
}

pub(crate) async fn identities_of<'e, E>(db: E, user_id: UserId) -> StoreResult<Vec<LinkedIdentity>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<IdentityRow> = sqlx::query_as(&format!(
        "SELECT {IDENTITY_COLUMNS} FROM identities WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user_id.as_uuid())
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}
