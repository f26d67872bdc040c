//! The project search index taken in once per batch (`search_index`), on a migrated
//! database: what a batch's units did to projects is searchable once it commits, a unit
//! rolled back leaves no trace in the index, and a batch whose index cannot catch up
//! commits nothing.

use super::GroupTx;
use super::tests::{fresh, until_waiting};
use crate::SqliteStore;

const ORG: &str = "x'01'";

async fn migrated() -> (SqliteStore, tempfile::TempDir) {
    let (store, dir) = fresh().await;
    sqlx::query(&format!(
        "INSERT INTO organizations (id, name, slug, created_by, created_at, updated_at) \
         VALUES ({ORG}, 'org', 'org', x'02', '2026-12-06', '2026-12-06')"
    ))
    .execute(&store.writer)
    .await
    .expect("org");
    (store, dir)
}

async fn create(unit: &mut GroupTx, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "INSERT INTO projects (id, org_id, name, description, metadata, created_by, \
                               created_at, updated_at) \
         VALUES (randomblob(16), {ORG}, $1, 'about ' || $1, '{{}}', x'02', \
                 '2026-12-06', '2026-12-06')"
    ))
    .bind(name)
    .execute(&mut **unit)
    .await
    .map(drop)
}

/// A unit that creates one project named `name` and commits.
fn spawn_create(
    store: &SqliteStore,
    name: &'static str,
) -> tokio::task::JoinHandle<tenantbase_store::StoreResult<()>> {
    let writer = store.group.clone();
    tokio::spawn(async move {
        let mut unit = writer.begin().await?;
        create(&mut unit, name).await?;
        unit.commit().await
    })
}

/// The names of the projects whose name or description matches `query`, sorted.
async fn found(store: &SqliteStore, query: &str) -> Vec<String> {
    let mut names: Vec<String> = sqlx::query_scalar(
        "SELECT projects.name FROM projects JOIN projects_fts \
           ON projects_fts.rowid = projects.rowid WHERE projects_fts MATCH $1",
    )
    .bind(query)
    .fetch_all(&store.reader)
    .await
    .expect("search");
    names.sort();
    names
}

async fn queued(store: &SqliteStore) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM projects_fts_pending")
        .fetch_one(&store.reader)
        .await
        .expect("queue")
}

/// FTS5's own check of the index against the projects it was built from.
async fn assert_index_matches_projects(store: &SqliteStore) {
    sqlx::query("INSERT INTO projects_fts (projects_fts, rank) VALUES ('integrity-check', 1)")
        .execute(&store.writer)
        .await
        .expect("the index holds exactly the projects' terms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batchs_projects_are_searchable_once_it_commits_and_a_rolled_back_one_is_not() {
    let (store, _dir) = migrated().await;
    let writer = &store.group;
    let mut first = writer.begin().await.expect("begin");
    let kept: Vec<_> = ["alpha one", "alpha two", "alpha three"]
        .into_iter()
        .map(|name| spawn_create(&store, name))
        .collect();
    until_waiting(writer, 3).await;
    let failing = {
        let writer = writer.clone();
        tokio::spawn(async move {
            let mut unit = writer.begin().await.expect("begin");
            create(&mut unit, "alpha doomed").await.expect("create");
            // A project without a name: refused, and the unit ends through `?`,
            // dropped without commit — its savepoint, queue rows included, rolled back.
            sqlx::query("INSERT INTO projects (id, org_id) VALUES (randomblob(16), x'01')")
                .execute(&mut *unit)
                .await
        })
    };
    until_waiting(writer, 4).await;
    create(&mut first, "alpha zero").await.expect("create");
    first.commit().await.expect("commit");
    for unit in kept {
        unit.await.expect("join").expect("a queued unit commits");
    }
    assert!(failing.await.expect("join").is_err());
    assert_eq!(writer.stats().commits, 1, "one batch");
    assert_eq!(
        found(&store, "alpha").await,
        ["alpha one", "alpha three", "alpha two", "alpha zero"]
    );
    assert!(found(&store, "doomed").await.is_empty());
    assert_eq!(found(&store, "\"about alpha zero\"").await, ["alpha zero"]);
    assert_eq!(queued(&store).await, 0, "the COMMIT emptied the queue");
    assert_index_matches_projects(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renamed_and_deleted_projects_leave_the_index_in_step() {
    let (store, _dir) = migrated().await;
    for name in ["old name", "short lived"] {
        spawn_create(&store, name)
            .await
            .expect("join")
            .expect("create");
    }
    let mut unit = store.group.begin().await.expect("begin");
    create(&mut unit, "brand new").await.expect("create");
    // Created and renamed in one unit: queued as an index, a removal, an index.
    sqlx::query(
        "UPDATE projects SET name = 'renamed', description = NULL WHERE name = 'brand new'",
    )
    .execute(&mut *unit)
    .await
    .expect("rename the new one");
    sqlx::query(
        "UPDATE projects SET name = 'new name', description = NULL WHERE name = 'old name'",
    )
    .execute(&mut *unit)
    .await
    .expect("rename");
    sqlx::query("DELETE FROM projects WHERE name = 'short lived'")
        .execute(&mut *unit)
        .await
        .expect("delete");
    unit.commit().await.expect("commit");
    assert!(found(&store, "old").await.is_empty());
    assert!(found(&store, "brand").await.is_empty());
    assert!(found(&store, "short").await.is_empty());
    assert_eq!(found(&store, "name").await, ["new name"]);
    assert_eq!(found(&store, "renamed").await, ["renamed"]);
    assert_eq!(queued(&store).await, 0);
    assert_index_matches_projects(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_index_cannot_catch_up_commits_nothing() {
    let (store, _dir) = migrated().await;
    // The index gone (by hand: nothing of ours drops it), so its catch-up fails.
    sqlx::query("DROP TABLE projects_fts")
        .execute(&store.writer)
        .await
        .expect("drop the index");
    let writer = &store.group;
    let first = writer.begin().await.expect("begin");
    let joined = spawn_create(&store, "lost");
    until_waiting(writer, 1).await;
    first.commit().await.expect_err("the batch fails");
    joined
        .await
        .expect("join")
        .expect_err("and so does the unit that joined it");
    let projects: i64 = sqlx::query_scalar("SELECT count(*) FROM projects")
        .fetch_one(&store.reader)
        .await
        .expect("count");
    assert_eq!(projects, 0, "nothing committed");
    assert_eq!(queued(&store).await, 0);
    assert_eq!(writer.stats().commits, 0);
}
