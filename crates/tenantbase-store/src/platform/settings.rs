//! Instance-wide settings: small JSON values under a dotted key (`jwt.active_kid`, …).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::model::Setting;

use crate::{StoreError, StoreResult};

#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<Setting>>;

    /// Creates or replaces the value under `key`.
    async fn put_setting(&self, key: &str, value: &serde_json::Value) -> StoreResult<Setting>;

    /// Removes `key`; `NotFound` when it was not there.
    async fn delete_setting(&self, key: &str) -> StoreResult<()>;
}

/// A row of `settings`; the value is JSON text.
#[derive(Debug, sqlx::FromRow)]
pub struct SettingRow {
    pub key: String,
    pub value: String,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<SettingRow> for Setting {
    type Error = StoreError;

    fn try_from(row: SettingRow) -> Result<Self, Self::Error> {
        let value = serde_json::from_str(&row.value)
            .map_err(|e| StoreError::Corrupt(format!("setting {}: {e}", row.key)))?;
        Ok(Setting {
            key: row.key,
            value,
            updated_at: row.updated_at,
        })
    }
}
