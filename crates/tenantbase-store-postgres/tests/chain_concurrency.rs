//! Many tasks appending to one org's chain on PostgreSQL at once still make one chain.

use std::sync::Arc;
use std::time::Duration;

use tenantbase_domain::OrgId;
use tenantbase_store::{EventStore, TxStore};
use tenantbase_store_postgres::{PgPoolConfig, PgStore};
use tenantbase_store_tests::{assert_unbroken, sample_event};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_tasks_by_five_hundred_appends_make_one_unbroken_chain() {
    let db = tenantbase_testkit::fresh_database().await;
    let store = PgStore::connect(
        &db.url,
        PgPoolConfig {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(30),
        },
    )
    .expect("pool");
    tenantbase_store::OpsStore::migrate(&store)
        .await
        .expect("migrate");
    let store = Arc::new(store);
    let org = OrgId::new();
    let tasks: Vec<_> = (0..8)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in 0..500 {
                    let mut unit = store.begin().await.expect("begin");
                    unit.append_event(sample_event(Some(org), &format!("t{task}.{i}")))
                        .await
                        .expect("append");
                    unit.commit().await.expect("commit");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("task");
    }
    let mut chain = Vec::new();
    loop {
        let after = chain
            .last()
            .map_or(0, |e: &tenantbase_domain::model::Event| e.seq);
        let page = store
            .events_after(&org.to_string(), after, 1000)
            .await
            .expect("page");
        if page.is_empty() {
            break;
        }
        chain.extend(page);
    }
    assert_eq!(chain.len(), 4000);
    assert_unbroken(&chain);
}
