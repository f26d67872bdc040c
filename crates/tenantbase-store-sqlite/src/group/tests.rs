//! The group commit's mechanics, on a real database file with raw statements: batches
//! formed by units queued behind one that holds the lock, so what shares a COMMIT is
//! known exactly.

use std::time::Duration;

use tokio::task::JoinHandle;

use tenantbase_store::OpsStore;

use super::{GroupCommitStats, GroupTx, GroupWriter};
use crate::{SqlitePoolConfig, SqliteStore};

pub(super) async fn fresh() -> (SqliteStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("group.db").display());
    let config = SqlitePoolConfig {
        max_readers: 2,
        acquire_timeout: Duration::from_secs(5),
        synchronous: Default::default(),
    };
    let store = SqliteStore::connect(&url, config).await.expect("open");
    // The real schema too: every batch's COMMIT may take in the search index's queue.
    store.migrate().await.expect("migrate");
    sqlx::raw_sql(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY); \
         CREATE TABLE row (unit INTEGER NOT NULL, n INTEGER NOT NULL, \
                           parent INTEGER REFERENCES parent (id), UNIQUE (unit, n))",
    )
    .execute(&store.writer)
    .await
    .expect("schema");
    (store, dir)
}

async fn insert(unit: &mut GroupTx, id: i64, n: i64) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO row (unit, n) VALUES ($1, $2)")
        .bind(id)
        .bind(n)
        .execute(&mut **unit)
        .await
        .map(drop)
}

/// A unit that writes three rows and commits.
fn spawn_unit(writer: &GroupWriter, id: i64) -> JoinHandle<tenantbase_store::StoreResult<()>> {
    let writer = writer.clone();
    tokio::spawn(async move {
        let mut unit = writer.begin().await?;
        for n in 0..3 {
            insert(&mut unit, id, n).await?;
        }
        unit.commit().await
    })
}

/// Waits until `count` units queue for the lock (bounded: 10 s of 1 ms polls).
pub(super) async fn until_waiting(writer: &GroupWriter, count: usize) {
    for _ in 0..10_000 {
        if writer
            .shared
            .waiting
            .load(std::sync::atomic::Ordering::Acquire)
            == count
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("{count} units never queued for the writer");
}

async fn rows_of(store: &SqliteStore, id: i64) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM row WHERE unit = $1")
        .bind(id)
        .fetch_one(&store.reader)
        .await
        .expect("count")
}

/// A failed batch kept nothing: no row of the units `ids`, no COMMIT; and the writer
/// still works.
async fn assert_failed_whole(store: &SqliteStore, ids: std::ops::RangeInclusive<i64>) {
    for id in ids {
        assert_eq!(rows_of(store, id).await, 0, "unit {id}");
    }
    assert_eq!(store.group.stats().commits, 0);
    assert_writer_works(store).await;
}

/// The writer still works and ends clean: a fresh unit commits on its own.
async fn assert_writer_works(store: &SqliteStore) {
    let before = store.group.stats();
    spawn_unit(&store.group, 999)
        .await
        .expect("join")
        .expect("a later unit commits");
    assert_eq!(rows_of(store, 999).await, 3);
    assert_eq!(store.group.stats().commits, before.commits + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_queued_behind_one_share_its_commit() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let mut first = writer.begin().await.expect("begin");
    let queued: Vec<_> = (1..=10).map(|id| spawn_unit(writer, id)).collect();
    until_waiting(writer, 10).await;
    insert(&mut first, 0, 0).await.expect("insert");
    first.commit().await.expect("commit");
    for unit in queued {
        unit.await.expect("join").expect("queued unit commits");
    }
    for id in 1..=10 {
        assert_eq!(rows_of(&store, id).await, 3, "unit {id}");
    }
    // Eleven units, one COMMIT: the last of the queue found nobody behind it.
    assert_eq!(
        writer.stats(),
        GroupCommitStats {
            commits: 1,
            units: 11
        }
    );
    assert_writer_works(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_unit_in_a_batch_loses_only_its_own_rows() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let first = writer.begin().await.expect("begin");
    let before = spawn_unit(writer, 1);
    until_waiting(writer, 1).await;
    let failing = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut unit = writer.begin().await.expect("begin");
            insert(&mut unit, 2, 0).await.expect("first row");
            // The same row again: a constraint error, which undoes the statement only;
            // the unit then ends through `?`, dropped without commit.
            insert(&mut unit, 2, 0).await
        })
    };
    until_waiting(writer, 2).await;
    let after = spawn_unit(writer, 3);
    until_waiting(writer, 3).await;
    first.commit().await.expect("commit");
    before.await.expect("join").expect("unit before commits");
    assert!(failing.await.expect("join").is_err());
    after.await.expect("join").expect("unit after commits");
    assert_eq!(rows_of(&store, 1).await, 3);
    assert_eq!(rows_of(&store, 2).await, 0);
    assert_eq!(rows_of(&store, 3).await, 3);
    assert_eq!(writer.stats().commits, 1);
    assert_writer_works(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_cancelled_half_way_leaves_nothing() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let first = writer.begin().await.expect("begin");
    let (wrote, written) = tokio::sync::oneshot::channel();
    let stalled = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut unit = writer.begin().await.expect("begin");
            insert(&mut unit, 2, 0).await.expect("insert");
            wrote.send(()).expect("signal");
            std::future::pending::<()>().await;
        })
    };
    until_waiting(writer, 1).await;
    let after = spawn_unit(writer, 3);
    until_waiting(writer, 2).await;
    // The first unit's commit waits for its batch, which the stalled unit holds open.
    let first = tokio::spawn(first.commit());
    written.await.expect("the stalled unit wrote");
    // The client hangs up: the future is dropped with the unit inside, lock held.
    stalled.abort();
    assert!(stalled.await.expect_err("aborted").is_cancelled());
    after
        .await
        .expect("join")
        .expect("the unit after it commits");
    first.await.expect("join").expect("the first unit commits");
    assert_eq!(rows_of(&store, 2).await, 0);
    assert_eq!(rows_of(&store, 3).await, 3);
    assert_writer_works(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_that_panics_leaves_nothing() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let first = writer.begin().await.expect("begin");
    let panicking = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut unit = writer.begin().await.expect("begin");
            insert(&mut unit, 2, 0).await.expect("insert");
            panic!("a bug in the unit");
        })
    };
    until_waiting(writer, 1).await;
    let after = spawn_unit(writer, 3);
    until_waiting(writer, 2).await;
    first.commit().await.expect("commit");
    assert!(panicking.await.expect_err("panicked").is_panic());
    after
        .await
        .expect("join")
        .expect("the unit after it commits");
    assert_eq!(rows_of(&store, 2).await, 0);
    assert_eq!(rows_of(&store, 3).await, 3);
    assert_writer_works(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_every_unit_of_its_batch() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let mut first = writer.begin().await.expect("begin");
    let queued: Vec<_> = (1..=3).map(|id| spawn_unit(writer, id)).collect();
    until_waiting(writer, 3).await;
    // A foreign key checked only at COMMIT, and broken: the batch's COMMIT fails.
    sqlx::query("PRAGMA defer_foreign_keys = ON")
        .execute(&mut *first)
        .await
        .expect("defer");
    sqlx::query("INSERT INTO row (unit, n, parent) VALUES (0, 0, 42)")
        .execute(&mut *first)
        .await
        .expect("insert");
    let failed = first.commit().await;
    assert!(
        matches!(failed, Err(tenantbase_store::StoreError::BatchFailed(_))),
        "{failed:?}"
    );
    for unit in queued {
        let outcome = unit.await.expect("join");
        assert!(outcome.is_err(), "a unit of the failed batch: {outcome:?}");
    }
    assert_failed_whole(&store, 0..=3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_units_failed_commit_fails_it_and_keeps_nothing() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    // Nobody waits: the unit commits its batch at once, without a RELEASE first.
    let mut lone = writer.begin().await.expect("begin");
    sqlx::query("PRAGMA defer_foreign_keys = ON")
        .execute(&mut *lone)
        .await
        .expect("defer");
    insert(&mut lone, 1, 2).await.expect("rows");
    sqlx::query("INSERT INTO row (unit, n, parent) VALUES (1, 9, 42)")
        .execute(&mut *lone)
        .await
        .expect("insert");
    let failed = lone.commit().await;
    assert!(
        matches!(failed, Err(tenantbase_store::StoreError::BatchFailed(_))),
        "{failed:?}"
    );
    assert_eq!(rows_of(&store, 1).await, 0);
    assert_eq!(writer.stats(), GroupCommitStats::default());
    assert_writer_works(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_outside_units_take_the_writer_between_batches() {
    let (store, _dir) = fresh().await;
    let unit = store.group.begin().await.expect("begin");
    let outside = {
        let pool = store.writer.clone();
        tokio::spawn(async move {
            sqlx::query("INSERT INTO parent (id) VALUES (1)")
                .execute(&pool)
                .await
        })
    };
    drop(unit);
    outside.await.expect("join").expect("the pooled write runs");
    assert_writer_works(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_that_opened_its_batch_and_failed_leaves_nothing() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let mut opener = writer.begin().await.expect("begin");
    let queued: Vec<_> = (1..=2).map(|id| spawn_unit(writer, id)).collect();
    until_waiting(writer, 2).await;
    insert(&mut opener, 0, 0).await.expect("insert");
    // It has no savepoint: dropping it rolls its batch back, which holds only it.
    drop(opener);
    for unit in queued {
        unit.await.expect("join").expect("a queued unit commits");
    }
    assert_eq!(rows_of(&store, 0).await, 0);
    assert_eq!(rows_of(&store, 1).await, 3);
    assert_eq!(rows_of(&store, 2).await, 3);
    assert_eq!(writer.stats().units, 2);
    assert_writer_works(&store).await;
}

/// Units 0 (with `opener`) and 1 (the victim) write, then the victim runs a statement
/// that makes SQLite roll the whole transaction back (`OR ROLLBACK` here; IOERR or FULL in
/// production), swallows its error and commits, with units 2 and 3 queued behind it.
/// Nobody in the rolled-back batch is told `Ok`, and units 2 and 3 commit in a batch of
/// their own: had unit 2 joined the dead one (behind the opener, whose savepoint there
/// is none to release), its SAVEPOINT would have begun a new transaction, and its
/// RELEASE committed it on its own.
async fn rolled_back_under_a_unit(with_opener: bool) {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let (held, holds) = tokio::sync::oneshot::channel();
    let (go, told) = tokio::sync::oneshot::channel::<()>();
    let opener = if with_opener {
        let mut opener = writer.begin().await.expect("begin");
        insert(&mut opener, 0, 0).await.expect("insert");
        Some(opener)
    } else {
        None
    };
    let victim = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut unit = writer.begin().await?;
            insert(&mut unit, 1, 0).await?;
            held.send(()).expect("signal");
            told.await.expect("go");
            let duplicate = sqlx::query("INSERT OR ROLLBACK INTO row (unit, n) VALUES (1, 0)")
                .execute(&mut *unit)
                .await;
            assert!(duplicate.is_err(), "the duplicate is refused");
            unit.commit().await
        })
    };
    // Units 2 and 3 queue behind the victim, before any flush.
    let opener = match opener {
        Some(opener) => {
            until_waiting(writer, 1).await;
            let opener = tokio::spawn(opener.commit());
            holds.await.expect("the victim holds the writer");
            Some(opener)
        }
        None => {
            holds.await.expect("the victim holds the writer");
            None
        }
    };
    let behind = [spawn_unit(writer, 2), spawn_unit(writer, 3)];
    until_waiting(writer, 2).await;
    go.send(()).expect("go");
    for (name, unit) in [("victim", Some(victim)), ("opener", opener)] {
        let Some(unit) = unit else { continue };
        let outcome = unit.await.expect("join");
        assert!(
            outcome.is_err(),
            "the {name} is told it failed: {outcome:?}"
        );
    }
    for unit in behind {
        unit.await.expect("join").expect("a unit behind commits");
    }
    assert_eq!(rows_of(&store, 0).await, 0);
    assert_eq!(rows_of(&store, 1).await, 0);
    assert_eq!(rows_of(&store, 2).await, 3);
    assert_eq!(rows_of(&store, 3).await, 3);
    assert_eq!(
        writer.stats(),
        GroupCommitStats {
            commits: 1,
            units: 2
        }
    );
    assert_writer_works(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_rolled_back_under_its_opener_fails_and_the_queue_commits_apart() {
    rolled_back_under_a_unit(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_rolled_back_under_a_joined_unit_fails_and_the_queue_commits_apart() {
    rolled_back_under_a_unit(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_between_batches_fails_no_later_batch() {
    let (store, _dir) = fresh().await;
    // A transaction outside units, rolled back: the writer's rollback count moves
    // before any batch begins, so no batch counts it against itself.
    let mut outside = store.writer.begin().await.expect("begin");
    sqlx::query("INSERT INTO parent (id) VALUES (1)")
        .execute(&mut *outside)
        .await
        .expect("insert");
    outside.rollback().await.expect("rollback");
    assert_writer_works(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unit_writing_on_after_sqlite_rolled_back_its_batch_keeps_nothing() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let mut unit = writer.begin().await.expect("begin");
    insert(&mut unit, 1, 0).await.expect("insert");
    let duplicate = sqlx::query("INSERT OR ROLLBACK INTO row (unit, n) VALUES (1, 0)")
        .execute(&mut *unit)
        .await;
    assert!(duplicate.is_err(), "the duplicate is refused");
    // The unit swallows that and writes on: outside any transaction now, the statement
    // would commit on its own; the commit hook refuses it while the batch is open.
    let after = insert(&mut unit, 1, 1).await;
    assert!(
        after.is_err(),
        "a write after the rollback commits nothing: {after:?}"
    );
    let outcome = unit.commit().await;
    assert!(outcome.is_err(), "the unit is told it failed: {outcome:?}");
    assert_eq!(rows_of(&store, 1).await, 0);
    assert_writer_works(&store).await;
    // Between batches, statements outside units commit as before.
    sqlx::query("INSERT INTO parent (id) VALUES (7)")
        .execute(&store.writer)
        .await
        .expect("an autocommit statement between batches");
}

/// A kept joined unit's savepoint is released by the next unit's call. When that call
/// fails (here the unit released its savepoint itself, so SQLite has none to release),
/// nothing tells what the batch still holds: every unit of it fails, none of its rows
/// stay, and the unit that found it so fails too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_release_for_the_unit_before_fails_the_batch() {
    let (store, _dir) = fresh().await;
    let writer = &store.group;
    let mut first = writer.begin().await.expect("begin");
    insert(&mut first, 1, 0).await.expect("insert");
    let releasing = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut unit = writer.begin().await?;
            insert(&mut unit, 2, 0).await?;
            sqlx::query("RELEASE unit").execute(&mut *unit).await?;
            unit.commit().await
        })
    };
    until_waiting(writer, 1).await;
    let after = spawn_unit(writer, 3);
    until_waiting(writer, 2).await;
    let first = first.commit().await;
    assert!(first.is_err(), "the opener is told it failed: {first:?}");
    for (name, unit) in [("releasing", releasing), ("after", after)] {
        let outcome = unit.await.expect("join");
        assert!(outcome.is_err(), "{name} is told it failed: {outcome:?}");
    }
    assert_failed_whole(&store, 1..=3).await;
}
