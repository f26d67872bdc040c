//! Many tasks recording into one org's chain on PostgreSQL at once, with two sealers
//! running beside them, still make one unbroken chain holding every event exactly once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tenantbase_domain::OrgId;
use tenantbase_store::EventStore;
use tenantbase_store_postgres::{PgPoolConfig, PgStore};
use tenantbase_store_tests::{assert_unbroken, record, sample_event, seal, whole_chain};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_writers_and_two_sealers_make_one_unbroken_chain() {
    let db = tenantbase_testkit::fresh_database().await;
    let store = PgStore::connect(
        &db.url,
        PgPoolConfig {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(30),
        },
    )
    .expect("pool");
    tenantbase_store::OpsStore::migrate(&store)
        .await
        .expect("migrate");
    let store = Arc::new(store);
    let org = OrgId::new();
    let chain = org.to_string();
    let writing = Arc::new(AtomicBool::new(true));
    let sealers: Vec<_> = (0..2)
        .map(|_| {
            let (store, chain, writing) = (store.clone(), chain.clone(), writing.clone());
            tokio::spawn(async move {
                let mut sealed = Vec::new();
                while writing.load(Ordering::Relaxed) {
                    let batch = seal(store.as_ref(), &chain, 50).await;
                    sealed.extend(batch.into_iter().map(|e| e.id));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                sealed
            })
        })
        .collect();
    let writers: Vec<_> = (0..8)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..500 {
                    let event = sample_event(Some(org), &format!("t{task}.{i}"));
                    ids.push(record(store.as_ref(), event).await);
                }
                ids
            })
        })
        .collect();
    let mut recorded = Vec::new();
    for writer in writers {
        recorded.extend(writer.await.expect("writer"));
    }
    writing.store(false, Ordering::Relaxed);
    let mut sealed = Vec::new();
    for sealer in sealers {
        sealed.extend(sealer.await.expect("sealer"));
    }
    sealed.extend(
        seal(store.as_ref(), &chain, 10_000)
            .await
            .into_iter()
            .map(|e| e.id),
    );
    assert!(store.unsealed_chains().await.expect("unsealed").is_empty());

    let stored = whole_chain(store.as_ref(), &chain).await;
    assert_eq!(stored.len(), 4000);
    assert_unbroken(&stored);
    recorded.sort();
    sealed.sort();
    assert_eq!(sealed, recorded, "every event sealed exactly once");
}
