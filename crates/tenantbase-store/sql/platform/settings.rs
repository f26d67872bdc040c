//! The statements on instance settings.

use chrono::Utc;
use tenantbase_domain::model::Setting;
use tenantbase_store::platform::settings::SettingRow;
use tenantbase_store::{StoreError, StoreResult};

use crate::dialect::Db;

pub(crate) async fn get_setting<'e, E>(db: E, key: &str) -> StoreResult<Option<Setting>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let row: Option<SettingRow> =
        sqlx::query_as("SELECT key, value, updated_at FROM settings WHERE key = $1")
            .bind(key)
            .fetch_optional(db)
            .await?;
    row.map(Setting::try_from).transpose()
}

pub(crate) async fn put_setting<'e, E>(
    db: E,
    key: &str,
    value: &serde_json::Value,
) -> StoreResult<Setting>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let updated_at = Utc::now();
    sqlx::query(
        "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(key)
    .bind(value.to_string())
    .bind(updated_at)
    .execute(db)
    .await?;
    Ok(Setting {
        key: key.to_owned(),
        value: value.clone(),
        updated_at,
    })
}

pub(crate) async fn delete_setting<'e, E>(db: E, key: &str) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    // `RETURNING` tells whether a row went; read to completion (`fetch_all`), since
    // SQLite only checkpoints its WAL after a statement finishes.
    let deleted: Vec<(String,)> =
        sqlx::query_as("DELETE FROM settings WHERE key = $1 RETURNING key")
            .bind(key)
            .fetch_all(db)
            .await?;
    if deleted.is_empty() {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
