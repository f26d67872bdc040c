//! Verifying and sealing the audit chain, and catching tampering, on both backends;
//! exports and archives in `archive`.

mod archive;
#[path = "../fixture/mod.rs"]
mod fixture;

use fixture::{BOTH, Fixture};
use tenantbase_core::audit::seal::seal_all;
use tenantbase_core::audit::verify::{Break, Verdict, unsealed, verify_chains};
use tenantbase_domain::OrgId;
use tenantbase_store::Store;
use tenantbase_store_tests::{record, sample_event};

/// Records `n` events in `org`'s chain and seals them, as a process's sealer would.
async fn append_many(store: &dyn Store, org: OrgId, n: usize) {
    record_many(store, org, n).await;
    seal_all(store).await.expect("seal");
}

async fn record_many(store: &dyn Store, org: OrgId, n: usize) {
    for i in 0..n {
        record(store, sample_event(Some(org), &format!("test.event.{i}"))).await;
    }
}

async fn verdict(store: &dyn Store, org: OrgId) -> Verdict {
    let mut verdicts = verify_chains(store, Some(&org.to_string()))
        .await
        .expect("verify");
    assert_eq!(verdicts.len(), 1);
    verdicts.remove(0)
}

#[tokio::test]
async fn intact_chains_verify() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let (a, b) = (OrgId::new(), OrgId::new());
        append_many(f.store.as_ref(), a, 5).await;
        append_many(f.store.as_ref(), b, 2).await;
        let verdicts = verify_chains(f.store.as_ref(), None).await.expect("verify");
        assert_eq!(verdicts.len(), 2, "{backend:?}");
        assert!(verdicts.iter().all(Verdict::is_intact), "{verdicts:?}");
        assert_eq!(
            verdict(f.store.as_ref(), a).await.to_string(),
            format!("{a}: ok 5 events")
        );
    }
}

#[tokio::test]
async fn recorded_events_are_reported_apart_and_verify_once_sealed() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let org = OrgId::new();
        append_many(f.store.as_ref(), org, 2).await;
        record_many(f.store.as_ref(), org, 3).await;
        assert_eq!(
            verdict(f.store.as_ref(), org).await.to_string(),
            format!("{org}: ok 2 events"),
            "{backend:?}: pending events are not a break"
        );
        let pending = unsealed(f.store.as_ref(), Some(&org.to_string()))
            .await
            .expect("unsealed");
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].count, 3);
        assert!(!pending[0].is_stale(), "{}", pending[0]);
        assert!(
            pending[0]
                .to_string()
                .starts_with(&format!("{org}: 3 events not yet sealed, oldest ")),
            "{}",
            pending[0]
        );

        assert_eq!(seal_all(f.store.as_ref()).await.expect("seal"), 3);
        assert!(
            unsealed(f.store.as_ref(), None)
                .await
                .expect("unsealed")
                .is_empty()
        );
        assert_eq!(
            verdict(f.store.as_ref(), org).await.to_string(),
            format!("{org}: ok 5 events")
        );
    }
}

#[tokio::test]
async fn an_edited_event_is_pinpointed() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let org = OrgId::new();
        append_many(f.store.as_ref(), org, 5).await;
        let edited = f
            .raw(&format!("UPDATE events SET payload = '{{\"name\":\"forged\"}}' WHERE chain = '{org}' AND seq = 3"))
            .await;
        assert_eq!(edited, 1);
        let events = f
            .store
            .events_after(&org.to_string(), 2, 1)
            .await
            .expect("event 3");
        match verdict(f.store.as_ref(), org).await {
            Verdict::Broken {
                event_id,
                seq,
                problem: Break::HashMismatch { expected, found },
                ..
            } => {
                assert_eq!(seq, 3, "{backend:?}");
                assert_eq!(event_id, Some(events[0].id.to_string()));
                assert_eq!(found, events[0].hash);
                assert_ne!(expected, found);
            }
            other => panic!("{backend:?}: expected a hash mismatch at seq 3, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_deleted_event_leaves_a_gap() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let org = OrgId::new();
        append_many(f.store.as_ref(), org, 5).await;
        f.raw(&format!(
            "DELETE FROM events WHERE chain = '{org}' AND seq = 3"
        ))
        .await;
        let verdict = verdict(f.store.as_ref(), org).await;
        assert!(
            matches!(
                verdict,
                Verdict::Broken {
                    seq: 4,
                    problem: Break::Gap {
                        expected_seq: 3,
                        found_seq: 4
                    },
                    ..
                }
            ),
            "{backend:?}: {verdict:?}"
        );
        assert!(verdict.to_string().contains("expected seq 3, found 4"));

        f.raw(&format!(
            "DELETE FROM events WHERE chain = '{org}' AND seq >= 3"
        ))
        .await;
        let verdict = verdict_of(&f, org).await;
        assert!(
            matches!(
                verdict,
                Verdict::Broken {
                    problem: Break::MissingTail {
                        last_seq: 2,
                        head_seq: 5
                    },
                    ..
                }
            ),
            "{backend:?}: {verdict:?}"
        );
    }
}

#[tokio::test]
async fn an_event_no_append_recorded_lies_past_the_head() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let org = OrgId::new();
        append_many(f.store.as_ref(), org, 4).await;
        assert!(verdict_of(&f, org).await.is_intact(), "{backend:?}");
        // As if event 4 had been inserted without the append that moves the head: the
        // head is as event 3 left it.
        let third = f
            .store
            .events_after(&org.to_string(), 2, 1)
            .await
            .expect("event 3");
        f.raw(&format!(
            "UPDATE audit_chains SET head_seq = 3, head_hash = '{}' WHERE chain = '{org}'",
            third[0].hash
        ))
        .await;
        let verdict = verdict_of(&f, org).await;
        assert!(
            matches!(
                verdict,
                Verdict::Broken {
                    problem: Break::PastHead {
                        seq: 4,
                        head_seq: 3
                    },
                    ..
                }
            ),
            "{backend:?}: {verdict:?}"
        );
        assert!(verdict.to_string().contains("lies past the chain head"));
    }
}

#[tokio::test]
async fn a_removed_head_breaks_its_chain() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let (org, other) = (OrgId::new(), OrgId::new());
        append_many(f.store.as_ref(), org, 3).await;
        append_many(f.store.as_ref(), other, 1).await;
        let first = f
            .store
            .events_after(&org.to_string(), 0, 1)
            .await
            .expect("event 1");
        let removed = f
            .raw(&format!("DELETE FROM audit_chains WHERE chain = '{org}'"))
            .await;
        assert_eq!(removed, 1);
        let all = verify_chains(f.store.as_ref(), None).await.expect("verify");
        assert_eq!(all.len(), 2, "{backend:?}: {all:?}");
        assert!(
            all.iter()
                .any(|v| v.chain() == other.to_string() && v.is_intact()),
            "{all:?}"
        );
        let verdict = verdict_of(&f, org).await;
        assert_eq!(
            verdict,
            Verdict::Broken {
                chain: org.to_string(),
                event_id: Some(first[0].id.to_string()),
                seq: 1,
                problem: Break::NoHead,
            },
            "{backend:?}"
        );
        assert!(verdict.to_string().contains("has events but no head"));
    }
}

#[tokio::test]
async fn a_rewritten_head_hash_breaks_its_chain() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let org = OrgId::new();
        append_many(f.store.as_ref(), org, 3).await;
        let last = f
            .store
            .events_after(&org.to_string(), 2, 1)
            .await
            .expect("event 3");
        let forged = "0".repeat(64);
        f.raw(&format!(
            "UPDATE audit_chains SET head_hash = '{forged}' WHERE chain = '{org}'"
        ))
        .await;
        let verdict = verdict_of(&f, org).await;
        assert_eq!(
            verdict,
            Verdict::Broken {
                chain: org.to_string(),
                event_id: None,
                seq: 3,
                problem: Break::HeadMismatch {
                    expected: last[0].hash.clone(),
                    found: forged.clone(),
                },
            },
            "{backend:?}"
        );
        assert!(verdict.to_string().contains("the chain head was changed"));
    }
}

#[tokio::test]
async fn a_chain_that_cannot_be_sealed_holds_up_no_other() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let mut orgs = [OrgId::new(), OrgId::new()];
        // Chains are sealed in the order of their names: the failing one goes first.
        orgs.sort_by_key(ToString::to_string);
        let [failing, other] = orgs;
        append_many(f.store.as_ref(), failing, 1).await;
        // A head moved back makes the next seal reuse seq 1, which `UNIQUE (chain, seq)`
        // refuses.
        f.raw(&format!(
            "UPDATE audit_chains SET head_seq = 0 WHERE chain = '{failing}'"
        ))
        .await;
        record_many(f.store.as_ref(), failing, 1).await;
        record_many(f.store.as_ref(), other, 2).await;

        assert!(seal_all(f.store.as_ref()).await.is_err(), "{backend:?}");
        let pending = unsealed(f.store.as_ref(), None).await.expect("unsealed");
        assert_eq!(
            pending.iter().map(|p| p.chain.clone()).collect::<Vec<_>>(),
            [failing.to_string()],
            "{backend:?}: only the failing chain is left unsealed"
        );
        assert_eq!(
            verdict_of(&f, other).await.to_string(),
            format!("{other}: ok 2 events")
        );
    }
}

async fn verdict_of(f: &Fixture, org: OrgId) -> Verdict {
    verdict(f.store.as_ref(), org).await
}
