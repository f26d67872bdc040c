//! Statements run on the thread of the task that sends them (ADR 0010): neither the
//! writer nor the readers start a connection thread of sqlx's.

mod support;

use serde_json::json;
use tenantbase_store::platform::jobs::NewJob;
use tenantbase_store::{OpsStore, TxStore};

/// The names of this process's threads that sqlx starts for a SQLite connection
/// (`sqlx-sqlite-worker-N`, cut by Linux to 15 bytes).
fn connection_threads() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .filter(|name| name.starts_with("sqlx-sqlite"))
        .collect()
}

#[tokio::test]
async fn the_store_runs_statements_without_connection_threads() {
    let (store, _dir) = support::fresh().await;
    store.ping().await.expect("a read");
    let mut unit = store.begin().await.expect("begin");
    unit.enqueue_job(NewJob::new("probe", json!({})))
        .await
        .expect("a write");
    unit.commit().await.expect("commit");
    let stats = store.pool_stats();
    assert!(
        stats.size >= 2,
        "a reader and the writer are open: {stats:?}"
    );
    assert_eq!(connection_threads(), Vec::<String>::new());
}
