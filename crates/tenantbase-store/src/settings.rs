//! Instance-wide settings: small JSON values under a dotted key (`jwt.active_kid`, …).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::StoreResult;

#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    pub key: String,
    pub value: serde_json::Value,
    pub updated_at: DateTime<Utc>,
}

#[async_trait]
pub trait SettingsStore: Send + Sync {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<Setting>>;

    /// Creates or replaces the value under `key`.
    async fn put_setting(&self, key: &str, value: &serde_json::Value) -> StoreResult<Setting>;

    /// Removes `key`; `NotFound` when it was not there.
    async fn delete_setting(&self, key: &str) -> StoreResult<()>;
}
