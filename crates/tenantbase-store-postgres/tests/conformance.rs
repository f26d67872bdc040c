//! The conformance suite on PostgreSQL: each test gets its own fresh database.

use std::time::Duration;

use tenantbase_store::OpsStore;
use tenantbase_store_postgres::{PgPoolConfig, PgStore};
use tenantbase_testkit::TestDatabase;

async fn fresh() -> (PgStore, TestDatabase) {
    let db = tenantbase_testkit::fresh_database().await;
    let config = PgPoolConfig {
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
    };
    let store = PgStore::connect(&db.url, config).expect("pool");
    let report = store.migrate().await.expect("migrate");
    assert!(!report.applied.is_empty());
    (store, db)
}

tenantbase_store_tests::conformance_suite!(fresh);
