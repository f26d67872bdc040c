//! Conformance tests of sealing: recorded events join their chain only when sealed, in
//! recording order, and sealers racing on one chain never fork it.

use futures::future::join_all;
use tenantbase_domain::model::Event;
use tenantbase_domain::{EventId, OrgId};
use tenantbase_store::Store;

use crate::{assert_unbroken, record, sample_event, seal, whole_chain};

pub async fn recorded_events_await_the_sealer(store: &dyn Store) {
    let org = OrgId::new();
    let chain = org.to_string();
    for i in 0..3 {
        record(store, sample_event(Some(org), &format!("e{i}"))).await;
    }
    assert!(
        whole_chain(store, &chain).await.is_empty(),
        "not sealed yet"
    );
    let unsealed = store.unsealed_chains().await.expect("unsealed");
    assert_eq!(unsealed.len(), 1);
    assert_eq!(
        (unsealed[0].chain.as_str(), unsealed[0].count),
        (chain.as_str(), 3)
    );
    assert!(unsealed[0].oldest <= chrono::Utc::now());

    let first = seal(store, &chain, 2).await;
    let types = |events: &[Event]| {
        events
            .iter()
            .map(|e| e.event_type.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(types(&first), ["e0", "e1"], "oldest recorded first");
    assert_eq!(store.unsealed_chains().await.expect("unsealed")[0].count, 1);
    let rest = seal(store, &chain, 2).await;
    assert_eq!(types(&rest), ["e2"]);
    assert!(store.unsealed_chains().await.expect("unsealed").is_empty());

    let sealed = whole_chain(store, &chain).await;
    assert_eq!(sealed, [first, rest].concat());
    assert_unbroken(&sealed);
    let head = store
        .chain_heads()
        .await
        .expect("heads")
        .into_iter()
        .find(|h| h.chain == chain)
        .expect("head");
    assert_eq!(
        (head.head_seq, head.head_hash.as_str()),
        (3, sealed[2].hash.as_str())
    );
}

pub async fn racing_sealers_never_fork_a_chain(store: &dyn Store) {
    let org = OrgId::new();
    let chain = org.to_string();
    let mut recorded = Vec::new();
    for i in 0..100 {
        recorded.push(record(store, sample_event(Some(org), &format!("e{i}"))).await);
    }
    let sealers = (0..4).map(|_| async {
        let mut sealed = Vec::new();
        loop {
            let batch = seal(store, &chain, 3).await;
            if batch.is_empty() {
                return sealed;
            }
            sealed.extend(batch.into_iter().map(|e| e.id));
        }
    });
    let mut sealed: Vec<EventId> = join_all(sealers).await.concat();
    let stored = whole_chain(store, &chain).await;
    assert_unbroken(&stored);
    assert_eq!(stored.len(), 100);
    recorded.sort();
    sealed.sort();
    assert_eq!(sealed, recorded, "each event sealed by exactly one sealer");
}
