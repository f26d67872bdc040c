//! Where the writer keeps a unit's savepoint journal: in memory, never in a temporary
//! file (`temp_store = memory`, ADR 0009's twenty-first-session addendum), except while
//! migrating.

use super::tests::{fresh, until_waiting};

/// A unit's savepoint journal stays in memory on the writer (`temp_store = memory`), past
/// the 64 KiB at which SQLite would otherwise move it to a temporary file for the rest of
/// the batch, where every later unit would write its pages too.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_unit_journal_never_goes_to_a_temporary_file() {
    let (store, _dir) = fresh().await;
    // 2,048 rows of 1 KiB, four to a page of 4 KiB: about 512 pages before the unit.
    sqlx::raw_sql(
        "CREATE TABLE wide (id INTEGER PRIMARY KEY, body BLOB NOT NULL); \
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2048) \
         INSERT INTO wide (id, body) SELECT i, zeroblob(1000) FROM n",
    )
    .execute(&store.writer)
    .await
    .expect("rows");
    // The opener of a batch runs in no savepoint, so a first unit holds the batch open
    // and the one measured joins it, as a sealer's unit joins the creates queued beside it.
    let opener = store.group.begin().await.expect("opener");
    let joining = {
        let writer = store.group.clone();
        tokio::spawn(async move {
            let mut unit = writer.begin().await?;
            // About 320 KiB, then 2 MiB of existing pages journaled.
            for rows in [320, 2048] {
                sqlx::query("UPDATE wide SET body = randomblob(1000) WHERE id <= $1")
                    .bind(rows)
                    .execute(&mut *unit)
                    .await?;
                assert!(
                    !sqlite_temp_files_open(),
                    "a journal of {rows} rewritten rows went to a temporary file"
                );
            }
            unit.commit().await
        })
    };
    until_waiting(&store.group, 1).await;
    opener.commit().await.expect("opener commits");
    joining
        .await
        .expect("join")
        .expect("the joining unit commits");
}

/// Migrations run with SQLite's default temporary storage (files); the writer keeps its
/// journals in memory again after them, and the readers never leave the default.
#[tokio::test]
async fn only_the_writer_keeps_temporary_storage_in_memory_after_migrating() {
    let (store, _dir) = fresh().await;
    let temp_store = |pool: sqlx::SqlitePool| async move {
        sqlx::query_scalar::<_, i64>("PRAGMA temp_store")
            .fetch_one(&pool)
            .await
            .expect("pragma")
    };
    // SQLite's codes: 0 = the default, 2 = memory.
    assert_eq!(
        (
            temp_store(store.writer.clone()).await,
            temp_store(store.reader.clone()).await
        ),
        (2, 0)
    );
}

/// Whether this process has one of SQLite's temporary files open (`etilqs_…`, deleted
/// when it was created).
#[cfg(target_os = "linux")]
fn sqlite_temp_files_open() -> bool {
    std::fs::read_dir("/proc/self/fd")
        .expect("fd list")
        .filter_map(Result::ok)
        .filter_map(|fd| std::fs::read_link(fd.path()).ok())
        .any(|target| target.to_string_lossy().contains("etilqs_"))
}
