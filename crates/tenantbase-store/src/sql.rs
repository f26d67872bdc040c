//! SQL that both dialects accept as written, so each statement exists once.

pub mod settings {
    pub const GET: &str = "SELECT key, value, updated_at FROM settings WHERE key = $1";
    pub const PUT: &str = "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    /// `RETURNING` tells whether a row went; callers read it to completion (`fetch_all`),
    /// since SQLite only checkpoints its WAL after a statement finishes.
    pub const DELETE: &str = "DELETE FROM settings WHERE key = $1 RETURNING key";
}

/// A row of the settings table, decoded the same way on both backends.
#[derive(Debug, sqlx::FromRow)]
pub struct SettingRow {
    pub key: String,
    pub value: String,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl TryFrom<SettingRow> for crate::Setting {
    type Error = crate::StoreError;

    fn try_from(row: SettingRow) -> Result<Self, Self::Error> {
        let value = serde_json::from_str(&row.value)
            .map_err(|e| crate::StoreError::Corrupt(format!("setting {}: {e}", row.key)))?;
        Ok(crate::Setting {
            key: row.key,
            value,
            updated_at: row.updated_at,
        })
    }
}

/// The settings statements over any backend whose types encode the same way.
pub mod run {
    use chrono::{DateTime, Utc};
    use sqlx::{Database, Encode, Executor, FromRow, IntoArguments, Type};

    use super::{SettingRow, settings};
    use crate::{Setting, StoreError, StoreResult};

    pub async fn get_setting<'e, DB, E>(db: E, key: &str) -> StoreResult<Option<Setting>>
    where
        DB: Database,
        E: Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'r> SettingRow: FromRow<'r, DB::Row>,
    {
        let row: Option<SettingRow> = sqlx::query_as(settings::GET)
            .bind(key)
            .fetch_optional(db)
            .await?;
        row.map(Setting::try_from).transpose()
    }

    pub async fn put_setting<'e, DB, E>(
        db: E,
        key: &str,
        value: &serde_json::Value,
    ) -> StoreResult<Setting>
    where
        DB: Database,
        E: Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> String: Encode<'q, DB> + Type<DB>,
        for<'q> DateTime<Utc>: Encode<'q, DB> + Type<DB>,
    {
        let updated_at = Utc::now();
        sqlx::query(settings::PUT)
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

    pub async fn delete_setting<'e, DB, E>(db: E, key: &str) -> StoreResult<()>
    where
        DB: Database,
        E: Executor<'e, Database = DB>,
        for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'r> (String,): FromRow<'r, DB::Row>,
    {
        let deleted: Vec<(String,)> = sqlx::query_as(settings::DELETE)
            .bind(key)
            .fetch_all(db)
            .await?;
        if deleted.is_empty() {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }
}
