//! API keys of an org: each has its own permissions, and its secret is stored only as a
//! hash.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{ApiKeyId, UserId};
use tenantbase_domain::model::ApiKey;
use uuid::Uuid;

use crate::rows::json_column;
use crate::{StoreError, StoreResult};

/// The columns of `api_keys` that `ApiKeyRow` reads, in its order.
pub const COLUMNS: &str = "id, name, prefix, permissions, created_by, created_at, expires_at, \
     last_used_at, revoked_at";

#[async_trait]
pub trait ApiKeysUnit: Send {
    async fn insert_api_key(&mut self, key: &ApiKey, secret_hash: &str) -> StoreResult<()>;
    async fn api_keys(&mut self) -> StoreResult<Vec<ApiKey>>;
    async fn api_key_by_secret(&mut self, secret_hash: &str) -> StoreResult<Option<ApiKey>>;
    async fn revoke_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Revokes every live key `creator` made in the org; returns their ids.
    async fn revoke_api_keys_of(
        &mut self,
        creator: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ApiKeyId>>;
    async fn touch_api_key(&mut self, id: ApiKeyId, now: DateTime<Utc>) -> StoreResult<()>;
}

#[derive(Debug, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub permissions: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StoreError;

    fn try_from(row: ApiKeyRow) -> Result<Self, Self::Error> {
        Ok(ApiKey {
            id: ApiKeyId::from_uuid(row.id),
            permissions: json_column(&row.permissions, "api key permissions")?,
            name: row.name,
            prefix: row.prefix,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
            revoked_at: row.revoked_at,
        })
    }
}
