//! What the SQLite store's test binaries share: a migrated store on a fresh file.

use std::time::Duration;

use tenantbase_store::OpsStore;
use tenantbase_store_sqlite::{SqlitePoolConfig, SqliteStore};

/// A migrated store in a database file of its own (kept while the folder lives).
pub async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let config = SqlitePoolConfig {
        max_readers: 4,
        acquire_timeout: Duration::from_secs(5),
        synchronous: Default::default(),
    };
    let store = SqliteStore::connect(&url, config)
        .await
        .expect("open sqlite");
    let report = store.migrate().await.expect("migrate");
    assert!(!report.applied.is_empty());
    (store, dir)
}
