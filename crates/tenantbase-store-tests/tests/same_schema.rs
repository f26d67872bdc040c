//! Both backends, migrated from empty, end with the same tables and columns.

use std::time::Duration;

use tenantbase_store::OpsStore;
use tenantbase_store_postgres::{PgPoolConfig, PgStore};
use tenantbase_store_sqlite::{SqlitePoolConfig, SqliteStore};

#[tokio::test]
async fn sqlite_and_postgres_have_the_same_logical_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("schema.db").display());
    let sqlite = SqliteStore::connect(
        &url,
        SqlitePoolConfig {
            max_readers: 1,
            acquire_timeout: Duration::from_secs(5),
            synchronous: Default::default(),
        },
    )
    .await
    .expect("sqlite");
    let db = tenantbase_testkit::fresh_database().await;
    let postgres = PgStore::connect(
        &db.url,
        PgPoolConfig {
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
        },
    )
    .expect("postgres");

    let sqlite_report = sqlite.migrate().await.expect("migrate sqlite");
    let postgres_report = postgres.migrate().await.expect("migrate postgres");
    assert_eq!(
        sqlite_report.applied, postgres_report.applied,
        "same migrations, same order"
    );

    let mut sqlite_schema = sqlite.logical_schema().await.expect("sqlite schema");
    let mut postgres_schema = postgres.logical_schema().await.expect("postgres schema");
    sqlite_schema.sort();
    postgres_schema.sort();
    assert!(sqlite_schema.contains(&("settings".to_owned(), "key".to_owned())));
    assert_eq!(sqlite_schema, postgres_schema);
    postgres.close().await;
}
