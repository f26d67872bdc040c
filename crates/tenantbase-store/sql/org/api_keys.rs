//! The statements on an org's API keys.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::id::{ApiKeyId, UserId};
use tenantbase_domain::model::ApiKey;
use tenantbase_store::StoreResult;
use tenantbase_store::org::api_keys::{self, ApiKeyRow, ApiKeysUnit};
use tenantbase_store::rows::to_json_text;
use uuid::Uuid;

use super::OrgTx;

#[async_trait]
impl ApiKeysUnit for OrgTx {
    async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO api_keys (org_id, secret_hash, {}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            api_keys::COLUMNS
        ))
        .bind(self.org_id())
        .bind(secret_hash)
        .bind(key.id.as_uuid())
        .bind(&key.name)
        .bind(&key.prefix)
        .bind(to_json_text(&key.permissions))
        .bind(key.created_by.as_uuid())
        .bind(key.created_at)
        .bind(key.expires_at)
        .bind(key.last_used_at)
        .bind(key.revoked_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn api_keys(&mut self) -> StoreResult<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "SELECT {} FROM api_keys WHERE org_id = $1 ORDER BY created_at DESC, id DESC",
            api_keys::COLUMNS
        ))
        .bind(self.org_id())
        .fetch_all(&mut *self.tx)
        .await?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }

    async fn api_key_by_secret(&mut self, secret_hash: &str) -> StoreResult<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!(
            "SELECT {} FROM api_keys WHERE org_id = $1 AND secret_hash = $2",
            api_keys::COLUMNS
        ))
        .bind(self.org_id())
        .bind(secret_hash)
        .fetch_optional(&mut *self.tx)
        .await?;
        row.map(ApiKey::try_from).transpose()
    }

    async fn revoke_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<bool> {
        let changed = sqlx::query(
            "UPDATE api_keys SET revoked_at = $3 WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind(self.org_id())
        .bind(id.as_uuid())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(changed.rows_affected() > 0)
    }

    async fn revoke_api_keys_of(
        &mut self,
        creator: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ApiKeyId>> {
        let revoked: Vec<(Uuid,)> = sqlx::query_as(
            "UPDATE api_keys SET revoked_at = $3 \
             WHERE org_id = $1 AND created_by = $2 AND revoked_at IS NULL RETURNING id",
        )
        .bind(self.org_id())
        .bind(creator.as_uuid())
        .bind(now)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(revoked
            .into_iter()
            .map(|(id,)| ApiKeyId::from_uuid(id))
            .collect())
    }

    async fn touch_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET last_used_at = $3 WHERE org_id = $1 AND id = $2")
            .bind(self.org_id())
            .bind(id.as_uuid())
            .bind(now.trunc_subsecs(6))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}
