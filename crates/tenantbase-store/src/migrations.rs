//! Running the embedded, numbered migrations of a backend and reporting what changed.

use sqlx::migrate::{Migrate, Migrator};
use sqlx::{Database, Pool};

use crate::StoreResult;

/// One migration, as reported to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationInfo {
    pub version: i64,
    pub description: String,
}

/// What `migrate` did: the migrations it applied now, and how many were already there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<MigrationInfo>,
    pub already_applied: usize,
}

/// Applies `migrator`'s pending migrations to `pool`, refusing edited or unknown ones.
pub async fn apply<DB>(migrator: &Migrator, pool: &Pool<DB>) -> StoreResult<MigrationReport>
where
    DB: Database,
    DB::Connection: Migrate,
{
    let mut conn = pool.acquire().await?;
    conn.ensure_migrations_table().await?;
    let before = conn.list_applied_migrations().await?;
    migrator.run_direct(&mut *conn).await?;
    let applied = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .filter(|m| !before.iter().any(|done| done.version == m.version))
        .map(|m| MigrationInfo {
            version: m.version,
            description: m.description.to_string(),
        })
        .collect();
    Ok(MigrationReport {
        applied,
        already_applied: before.len(),
    })
}
