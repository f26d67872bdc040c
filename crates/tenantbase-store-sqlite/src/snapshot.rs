//! Online snapshots for `tenantbase backup` and their checks for `tenantbase restore`:
//! `VACUUM INTO` on a read connection copies a consistent state of the database while the
//! writer carries on (WAL readers never block it), and a snapshot file can be inspected —
//! its migration level and integrity — before anything is restored from it.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use tenantbase_store::{StoreError, StoreResult};

use crate::{MIGRATOR, SqliteStore};

/// What a snapshot file holds, as far as a restore must know before using it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotInfo {
    /// The highest migration applied to it (0 for a database never migrated).
    pub migration: i64,
}

impl SqliteStore {
    /// Writes a transactionally consistent copy of the database to `path`, which must not
    /// exist yet. Runs on a read connection, so a serving process keeps writing meanwhile.
    pub async fn snapshot_into(&self, path: &Path) -> StoreResult<()> {
        let target = path.to_str().ok_or_else(|| {
            StoreError::Invalid(format!("snapshot path {} is not UTF-8", path.display()))
        })?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(self.reader())
            .await?;
        Ok(())
    }
}

/// The database file a `sqlite:` URL names, as [`SqliteStore::connect`] reads it.
pub fn database_path(url: &str) -> StoreResult<PathBuf> {
    // sqlx names an in-memory database's file itself; the URL is what says it is one.
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(StoreError::Invalid(
            "an in-memory SQLite database has no file to back up or restore".to_owned(),
        ));
    }
    Ok(SqliteConnectOptions::from_str(url)?
        .get_filename()
        .to_path_buf())
}

/// The newest migration this build carries: a snapshot migrated further comes from a newer
/// release, whose schema this build cannot serve.
pub fn latest_migration() -> i64 {
    MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .map(|m| m.version)
        .max()
        .unwrap_or(0)
}

/// Opens the snapshot at `path` read-only, runs SQLite's integrity check over every page
/// and reads its migration level.
pub async fn inspect_snapshot(path: &Path) -> StoreResult<SnapshotInfo> {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .read_only(true)
        .create_if_missing(false);
    let mut conn = SqliteConnection::connect_with(&options).await?;
    let verdict: Vec<(String,)> = sqlx::query_as("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await?;
    if verdict.len() != 1 || verdict[0].0 != "ok" {
        let problems: Vec<&str> = verdict
            .iter()
            .take(3)
            .map(|(line,)| line.as_str())
            .collect();
        return Err(StoreError::Corrupt(format!(
            "integrity check failed: {}",
            problems.join("; ")
        )));
    }
    let migrations_table: Option<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = '_sqlx_migrations'",
    )
    .fetch_optional(&mut conn)
    .await?;
    let migration = match migrations_table {
        None => 0,
        Some(_) => {
            let (level,): (Option<i64>,) =
                sqlx::query_as("SELECT MAX(version) FROM _sqlx_migrations WHERE success")
                    .fetch_one(&mut conn)
                    .await?;
            level.unwrap_or(0)
        }
    };
    conn.close().await?;
    Ok(SnapshotInfo { migration })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tenantbase_store::OpsStore;

    use super::*;
    use crate::SqlitePoolConfig;

    #[tokio::test]
    async fn a_snapshot_of_a_migrated_database_carries_its_level_and_passes_the_check() {
        let dir = tempfile::tempdir().expect("dir");
        let url = format!("sqlite://{}", dir.path().join("live.db").display());
        let pool = SqlitePoolConfig {
            max_readers: 2,
            acquire_timeout: Duration::from_secs(5),
            synchronous: Default::default(),
        };
        let store = SqliteStore::connect(&url, pool).await.expect("open");
        store.migrate().await.expect("migrate");
        let copy = dir.path().join("copy.db");
        store.snapshot_into(&copy).await.expect("snapshot");
        store.close().await;
        let info = inspect_snapshot(&copy).await.expect("inspect");
        assert_eq!(info.migration, latest_migration());
        assert!(latest_migration() >= 15);
    }

    #[test]
    fn a_url_names_its_file() {
        let path = database_path("sqlite:///srv/data/tenantbase.db").expect("path");
        assert_eq!(path, PathBuf::from("/srv/data/tenantbase.db"));
        assert!(database_path("sqlite::memory:").is_err());
    }

    #[tokio::test]
    async fn a_damaged_snapshot_fails_the_check() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("junk.db");
        std::fs::write(&path, b"not a database at all, just bytes").expect("write");
        assert!(inspect_snapshot(&path).await.is_err());
    }
}
