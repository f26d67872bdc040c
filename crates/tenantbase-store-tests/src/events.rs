//! Conformance tests of the event log and units of work.

use futures::future::join_all;
use serde_json::json;
use tenantbase_domain::model::{Actor, ChainKey, Event, GENESIS_HASH, RequestMeta, Target};
use tenantbase_domain::{EventId, OrgId};
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::platform::jobs::NewJob;
use tenantbase_store::{OrgScope, Store, StoreError};

/// An event of `event_type` in `org` (or the platform chain).
pub fn sample_event(org: Option<OrgId>, event_type: &str) -> NewEvent {
    NewEvent {
        org_id: org,
        event_type: event_type.to_owned(),
        actor: Actor::User("usr_0000".to_owned()),
        target: Some(Target {
            kind: "project".to_owned(),
            id: "prj_1".to_owned(),
        }),
        request: RequestMeta {
            ip: Some("127.0.0.1".to_owned()),
            user_agent: Some("conformance".to_owned()),
            request_id: Some("req_1".to_owned()),
        },
        payload: json!({"name": "x", "password": "never stored"}),
    }
}

/// Records `event` in a unit of its own; it awaits sealing.
pub async fn record(store: &dyn Store, event: NewEvent) -> EventId {
    let mut unit = store.begin().await.expect("begin");
    let id = unit.append_event(event).await.expect("append");
    unit.commit().await.expect("commit");
    id
}

/// Seals up to `limit` of `chain`'s recorded events in a unit of its own.
pub async fn seal(store: &dyn Store, chain: &str, limit: u32) -> Vec<Event> {
    let mut unit = store.begin().await.expect("begin");
    let sealed = unit.seal_chain(chain, limit).await.expect("seal");
    unit.commit().await.expect("commit");
    sealed
}

/// Records `event`, seals its chain, and returns it as sealed.
async fn append(store: &dyn Store, event: NewEvent) -> Event {
    let chain = ChainKey::for_org(event.org_id).as_string();
    let id = record(store, event).await;
    let sealed = seal(store, &chain, 10_000).await;
    match sealed.into_iter().find(|e| e.id == id) {
        Some(event) => event,
        // Another task's sealer got to it first.
        None => whole_chain(store, &chain)
            .await
            .into_iter()
            .find(|e| e.id == id)
            .expect("sealed by someone"),
    }
}

/// Every event of a chain, in order.
pub async fn whole_chain(store: &dyn Store, chain: &str) -> Vec<Event> {
    let mut events = Vec::new();
    loop {
        let after = events.last().map_or(0, |e: &Event| e.seq);
        let page = store.events_after(chain, after, 500).await.expect("page");
        if page.is_empty() {
            return events;
        }
        events.extend(page);
    }
}

/// Asserts `events` are 1..=n, each linked to the previous and hashing correctly.
pub fn assert_unbroken(events: &[Event]) {
    let mut prev = GENESIS_HASH.to_owned();
    for (i, event) in events.iter().enumerate() {
        assert_eq!(event.seq, i as i64 + 1, "sequence has a gap or a fork");
        assert_eq!(event.prev_hash, prev, "link broken at seq {}", event.seq);
        assert_eq!(
            event.hash,
            event.expected_hash(),
            "hash wrong at seq {}",
            event.seq
        );
        prev = event.hash.clone();
    }
}

pub async fn events_form_one_chain_per_org(store: &dyn Store) {
    let (a, b) = (OrgId::new(), OrgId::new());
    for i in 0..3 {
        append(store, sample_event(Some(a), &format!("a.{i}"))).await;
        append(store, sample_event(Some(b), &format!("b.{i}"))).await;
    }
    let platform = append(store, sample_event(None, "auth.login.failed")).await;
    assert_eq!(platform.chain, "platform");
    assert_eq!(platform.seq, 1);

    let chain_a = whole_chain(store, &ChainKey::Org(a).as_string()).await;
    assert_eq!(chain_a.len(), 3);
    assert_unbroken(&chain_a);
    assert!(
        chain_a
            .iter()
            .all(|e| e.org_id == Some(a) && e.event_type.starts_with("a."))
    );
    let stored = &chain_a[0];
    assert_eq!(stored.actor_kind, "user");
    assert_eq!(stored.target_id.as_deref(), Some("prj_1"));
    assert_eq!(stored.request_id.as_deref(), Some("req_1"));
    assert!(
        !stored.payload.contains("never stored"),
        "secrets are redacted"
    );

    let heads = store.chain_heads().await.expect("heads");
    let head_a = heads
        .iter()
        .find(|h| h.chain == a.to_string())
        .expect("head a");
    assert_eq!(head_a.head_seq, 3);
    assert_eq!(head_a.head_hash, chain_a[2].hash);
    assert_eq!(heads.len(), 3);
}

/// A change's events, recorded in one call, are sealed in the order given; an org unit
/// refuses the whole call when one of them is another org's.
pub async fn events_appended_together_keep_their_order(store: &dyn Store) {
    let unit = store.begin().await.expect("begin");
    let platform: Vec<NewEvent> = (0..3)
        .map(|i| sample_event(None, &format!("p.{i}")))
        .collect();
    unit.commit_with_events(platform).await.expect("commit");
    let sealed = seal(store, "platform", 100).await;
    let types: Vec<&str> = sealed.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["p.0", "p.1", "p.2"]);

    let (a, b) = (OrgId::new(), OrgId::new());
    let scope = OrgScope::for_checked_org(a);
    let unit = store.begin_org(&scope).await.expect("unit");
    let mixed = vec![sample_event(Some(a), "a.0"), sample_event(Some(b), "b.0")];
    assert!(matches!(
        unit.commit_with_events(mixed).await,
        Err(StoreError::Invalid(_))
    ));
    let own = (1..4)
        .map(|i| sample_event(Some(a), &format!("a.{i}")))
        .collect();
    let unit = store.begin_org(&scope).await.expect("unit");
    unit.commit_with_events(own).await.expect("commit");
    let chain = ChainKey::Org(a).as_string();
    seal(store, &chain, 100).await;
    let sealed = whole_chain(store, &chain).await;
    assert_unbroken(&sealed);
    let types: Vec<&str> = sealed.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["a.1", "a.2", "a.3"]);
}

/// Each task records an event and then seals the chain, so sealers race one another and
/// the writers; the chain still holds every event once, unbroken.
pub async fn concurrent_appends_keep_one_unbroken_chain(store: &dyn Store) {
    let org = OrgId::new();
    let (tasks, per_task) = (8, 60);
    let appenders = (0..tasks).map(|t| async move {
        let mut ids = Vec::new();
        for i in 0..per_task {
            ids.push(record(store, sample_event(Some(org), &format!("t{t}.{i}"))).await);
            seal(store, &org.to_string(), 7).await;
        }
        ids
    });
    let mut recorded: Vec<EventId> = join_all(appenders).await.concat();
    seal(store, &org.to_string(), 10_000).await;
    let chain = whole_chain(store, &org.to_string()).await;
    assert_unbroken(&chain);
    let mut sealed: Vec<EventId> = chain.iter().map(|e| e.id).collect();
    recorded.sort();
    sealed.sort();
    assert_eq!(sealed, recorded, "every event sealed exactly once");
}

pub async fn uncommitted_units_leave_nothing(store: &dyn Store) {
    let org = OrgId::new();
    {
        let mut unit = store.begin().await.expect("begin");
        unit.append_event(sample_event(Some(org), "rolled.back"))
            .await
            .expect("append");
        unit.enqueue_job(NewJob::new("test.rollback", json!({})))
            .await
            .expect("enqueue");
        // Dropped without commit.
    }
    assert!(seal(store, &org.to_string(), 10).await.is_empty());
    assert!(whole_chain(store, &org.to_string()).await.is_empty());
    assert!(store.list_jobs(None, 10).await.expect("jobs").is_empty());
    // The chain starts cleanly afterwards.
    let first = append(store, sample_event(Some(org), "after")).await;
    assert_eq!((first.seq, first.prev_hash.as_str()), (1, GENESIS_HASH));
}

pub async fn units_commit_event_and_job_together(store: &dyn Store) {
    let org = OrgId::new();
    let mut unit = store.begin().await.expect("begin");
    let event = unit
        .append_event(sample_event(Some(org), "project.created"))
        .await
        .expect("append");
    let job = unit
        .enqueue_job(NewJob::new(
            "webhook.deliver",
            json!({"event": event.to_string()}),
        ))
        .await
        .expect("enqueue");
    unit.commit().await.expect("commit");
    let sealed = seal(store, &org.to_string(), 10).await;
    assert_eq!(sealed.iter().map(|e| e.id).collect::<Vec<_>>(), [event]);
    assert_eq!(whole_chain(store, &org.to_string()).await, sealed);
    let stored = store.get_job(job.id()).await.expect("job");
    assert_eq!(stored.payload["event"], event.to_string());
}

pub async fn truncating_a_chain_sets_its_anchor(store: &dyn Store) {
    let org = OrgId::new();
    for i in 0..5 {
        append(store, sample_event(Some(org), &format!("e{i}"))).await;
    }
    let chain = org.to_string();
    let events = whole_chain(store, &chain).await;
    let mut unit = store.begin().await.expect("begin");
    let deleted = unit
        .truncate_chain(&chain, 0, 3, &events[2].hash)
        .await
        .expect("truncate");
    unit.commit().await.expect("commit");
    assert_eq!(deleted, Some(3));
    // A run that started from the old anchor finds it moved and changes nothing.
    let mut unit = store.begin().await.expect("begin");
    let stale = unit
        .truncate_chain(&chain, 0, 4, &events[3].hash)
        .await
        .expect("truncate");
    unit.commit().await.expect("commit");
    assert_eq!(stale, None);
    let rest = whole_chain(store, &chain).await;
    assert_eq!(rest.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![4, 5]);
    let head = store
        .chain_heads()
        .await
        .expect("heads")
        .into_iter()
        .find(|h| h.chain == chain)
        .expect("head");
    assert_eq!(
        (head.anchor_seq, head.anchor_hash.as_str()),
        (3, events[2].hash.as_str())
    );
    assert_eq!(rest[0].prev_hash, head.anchor_hash);
    // Appending continues after the head, not the anchor.
    assert_eq!(append(store, sample_event(Some(org), "next")).await.seq, 6);
}
