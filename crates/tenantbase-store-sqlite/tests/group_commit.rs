//! Group commit through the store's own units of work (ADR 0009): concurrent units all
//! commit and share COMMITs, and a unit that fails, is cancelled or panics among them
//! loses only its own rows while the writer keeps working.

mod support;

use std::time::Duration;

use serde_json::json;
use tenantbase_domain::id::UserId;
use tenantbase_store::identity::users::NewUser;
use tenantbase_store::platform::jobs::NewJob;
use tenantbase_store::{JobStore, OpsStore, StoreError, TxStore};
use tenantbase_store_sqlite::SqliteStore;

use support::fresh;

/// Writers at once, and units each writes one after the other.
const TASKS: u64 = 16;
const UNITS: u64 = 20;

fn job(kind: &str, task: u64, unit: u64) -> NewJob {
    NewJob::new(kind, json!({ "task": task, "unit": unit }))
}

fn user(email: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        email: Some(email.to_owned()),
        display_name: "Test".to_owned(),
        password_hash: Some("$argon2id$fake".to_owned()),
        is_guest: false,
    }
}

/// One unit: enqueues its job; every `fail_every`-th also signs up a taken address,
/// whose unique-constraint error drops the unit without commit.
async fn write_unit(
    store: &SqliteStore,
    task: u64,
    unit: u64,
    fail_every: Option<u64>,
) -> Result<(), StoreError> {
    let mut tx = store.begin().await?;
    tx.enqueue_job(job("load", task, unit)).await?;
    if fail_every.is_some_and(|every| unit.is_multiple_of(every)) {
        tx.create_user(user("taken@example.com")).await?;
    }
    tx.commit().await
}

/// `TASKS` writers of `UNITS` units each, at once; returns each unit's outcome.
async fn load(store: &SqliteStore, fail_every: Option<u64>) -> Vec<(u64, u64, bool)> {
    let writers: Vec<_> = (0..TASKS)
        .map(|task| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for unit in 0..UNITS {
                    let ok = write_unit(&store, task, unit, fail_every).await.is_ok();
                    outcomes.push((task, unit, ok));
                }
                outcomes
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for writer in writers {
        outcomes.extend(writer.await.expect("join"));
    }
    outcomes
}

/// The (task, unit) of every stored job of `kind`, sorted.
async fn stored(store: &SqliteStore, kind: &str) -> Vec<(u64, u64)> {
    let mut keys: Vec<_> = store
        .list_jobs(None, 10_000)
        .await
        .expect("list")
        .into_iter()
        .filter(|job| job.kind == kind)
        .map(|job| {
            let field = |name: &str| job.payload[name].as_u64().expect("number");
            (field("task"), field("unit"))
        })
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_units_all_commit_and_share_commits() {
    let (store, _dir) = fresh().await;
    let before = store.group_commit_stats();
    let outcomes = load(&store, None).await;
    assert!(outcomes.iter().all(|&(_, _, ok)| ok), "{outcomes:?}");
    let all: Vec<_> = (0..TASKS)
        .flat_map(|task| (0..UNITS).map(move |unit| (task, unit)))
        .collect();
    assert_eq!(stored(&store, "load").await, all);
    let stats = store.group_commit_stats();
    let (commits, units) = (stats.commits - before.commits, stats.units - before.units);
    println!(
        "{units} units in {commits} COMMITs: {:.1} units per fsync",
        units as f64 / commits as f64
    );
    assert_eq!(units, TASKS * UNITS);
    assert!(
        commits < units,
        "no COMMIT was shared: {commits} for {units}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_unit_among_concurrent_ones_loses_only_its_own_rows() {
    let (store, _dir) = fresh().await;
    let mut first = store.begin().await.expect("begin");
    first
        .create_user(user("taken@example.com"))
        .await
        .expect("user");
    first.commit().await.expect("commit");
    let outcomes = load(&store, Some(5)).await;
    let committed: Vec<_> = outcomes
        .iter()
        .filter(|&&(_, _, ok)| ok)
        .map(|&(task, unit, _)| (task, unit))
        .collect();
    assert!(committed.iter().all(|&(_, unit)| !unit.is_multiple_of(5)));
    assert_eq!(committed.len() as u64, TASKS * UNITS * 4 / 5);
    let mut expected = committed;
    expected.sort_unstable();
    assert_eq!(stored(&store, "load").await, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_and_panicking_units_leave_nothing_and_the_writer_keeps_working() {
    let (store, _dir) = fresh().await;
    let loading = {
        let store = store.clone();
        tokio::spawn(async move { load(&store, None).await })
    };
    let mut spoilers = Vec::new();
    for round in 0..10 {
        let cancelled = store.clone();
        spoilers.push(tokio::spawn(async move {
            // Gives up (a client hanging up) after its statement, the unit still open.
            let stalled = async {
                let mut unit = cancelled.begin().await.expect("begin");
                unit.enqueue_job(job("cancelled", round, 0))
                    .await
                    .expect("enqueue");
                std::future::pending::<()>().await;
            };
            let gave_up = tokio::time::timeout(Duration::from_millis(20), stalled).await;
            assert!(gave_up.is_err());
        }));
        let panicking = store.clone();
        let panicked = tokio::spawn(async move {
            let mut unit = panicking.begin().await.expect("begin");
            unit.enqueue_job(job("panicked", round, 0))
                .await
                .expect("enqueue");
            panic!("a bug in the unit");
        });
        assert!(panicked.await.expect_err("panicked").is_panic());
    }
    for spoiler in spoilers {
        spoiler.await.expect("the cancelled unit gave up");
    }
    let outcomes = loading.await.expect("join");
    assert!(outcomes.iter().all(|&(_, _, ok)| ok), "{outcomes:?}");
    assert_eq!(stored(&store, "load").await.len() as u64, TASKS * UNITS);
    assert!(stored(&store, "cancelled").await.is_empty());
    assert!(stored(&store, "panicked").await.is_empty());
    store.ping_writer().await.expect("writer answers");
    write_unit(&store, 99, 0, None)
        .await
        .expect("a later unit commits");
}
