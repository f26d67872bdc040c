//! The SQLite backend of the tenantbase store, the embedded default. The database runs in
//! WAL mode with `synchronous=FULL` by default, so an acknowledged write survives a power
//! cut (`Synchronous::Normal` trades that for fewer fsyncs, see its doc); all
//! writes go through a single connection (SQLite allows one writer at a time, and queueing
//! beats `SQLITE_BUSY` retries) while reads use a pool of read-only connections. Units of
//! work queued for the writer share one transaction and one fsync (`group`, ADR 0009).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlitePool, migrate::Migrator};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::Membership;
use tenantbase_store::{
    Backend, MigrationReport, OpsStore, OrgScope, OrgUnit, PoolStats, StoreResult, TenantStore,
    TxStore, UnitOfWork, migrations, transactions,
};

mod dialect;
mod group;
mod search_index;
mod snapshot;

pub use group::GroupCommitStats;
pub use snapshot::{SnapshotInfo, database_path, inspect_snapshot, latest_migration};

/// The statements both backends share (ADR 0001), compiled here for `dialect::Db`.
#[path = "../../tenantbase-store/sql/mod.rs"]
mod sql;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for the write lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool sizing and durability for the SQLite backend.
#[derive(Debug, Clone, Copy)]
pub struct SqlitePoolConfig {
    /// Read-only connections; the writer is always one more.
    pub max_readers: u32,
    pub acquire_timeout: Duration,
    pub synchronous: Synchronous,
}

/// When a COMMIT reaches the disk (`database.sqlite_synchronous`: `full` or `normal`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    /// Every COMMIT is fsynced before it returns: an acknowledged write survives a crash
    /// of the process, of the operating system and a power cut.
    #[default]
    Full,
    /// COMMITs are written to the WAL without an fsync; the WAL is synced at checkpoints.
    /// An acknowledged write survives a crash of the process (kill -9), but a crash of the
    /// operating system or a power cut can undo the writes acknowledged since the last
    /// checkpoint. The database is never corrupted: it reopens as of an earlier commit,
    /// and the audit chains lose a tail (which `audit verify` cannot see) rather than break.
    Normal,
}

impl From<Synchronous> for SqliteSynchronous {
    fn from(mode: Synchronous) -> Self {
        match mode {
            Synchronous::Full => SqliteSynchronous::Full,
            Synchronous::Normal => SqliteSynchronous::Normal,
        }
    }
}

/// The store over one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Units of work on `writer`, committed in groups.
    group: group::GroupWriter,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL.
    pub async fn connect(url: &str, pool: SqlitePoolConfig) -> StoreResult<Self> {
        let base = SqliteConnectOptions::from_str(url)?
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .synchronous(pool.synchronous.into())
            // Each statement on the caller's thread, not handed to a connection thread and
            // back: ADR 0010.
            .execute_on_caller_thread(true);
        // No ping before each checkout (sqlx's default): an in-process database does not
        // drop connections, and the ping would be one more call per checkout.
        let watch = Arc::new(group::TransactionWatch::default());
        let installed = watch.clone();
        let writer = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(transactions::refuse_in_transaction)
            // Group commit learns from its hooks when SQLite rolled a batch back by
            // itself, and refuses what would commit outside a batch's COMMIT.
            .after_connect(move |connection, _| Box::pin(installed.clone().install(connection)))
            .max_connections(1)
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // Each unit that joins a batch runs in a savepoint, whose journal of
                    // the pages it changes SQLite moves to a temporary file past 64 KiB
                    // for the rest of the batch (ADR 0009, twenty-first session).
                    .pragma("temp_store", "memory"),
            )
            .await?;
        let reader = SqlitePoolOptions::new()
            .test_before_acquire(false)
            .before_acquire(transactions::refuse_in_transaction)
            .max_connections(pool.max_readers.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(base.read_only(true))
            .await?;
        let group = group::GroupWriter::new(writer.clone(), pool.acquire_timeout, watch);
        Ok(Self {
            writer,
            reader,
            group,
        })
    }

    /// How many COMMITs the writer's group commit ran and how many units they carried.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.group.stats()
    }

    /// The read-only pool.
    fn reader(&self) -> &SqlitePool {
        &self.reader
    }

    /// The single writer connection's pool, for statements outside units of work; it
    /// hands them the connection between group commits.
    fn writer(&self) -> &SqlitePool {
        &self.writer
    }
}

#[async_trait]
impl OpsStore for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await?;
        Ok(())
    }

    async fn ping_writer(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.writer).await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        let (writer, reader) = (&self.writer, &self.reader);
        PoolStats {
            size: writer.size() + reader.size(),
            idle: (writer.num_idle() + reader.num_idle()) as u32,
            max: writer.options().get_max_connections() + reader.options().get_max_connections(),
        }
    }

    async fn migrate(&self) -> StoreResult<MigrationReport> {
        // A migration may rewrite a whole table or index one: its journal and sorts go to
        // temporary files, as SQLite's default has them, not into the writer's memory.
        sqlx::query("PRAGMA temp_store = default")
            .execute(&self.writer)
            .await?;
        let report = migrations::apply(&MIGRATOR, &self.writer).await;
        sqlx::query("PRAGMA temp_store = memory")
            .execute(&self.writer)
            .await?;
        report
    }

    async fn logical_schema(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT t.name, c.name FROM sqlite_schema t JOIN pragma_table_info(t.name) c \
             WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite_%' \
               AND t.name <> '_sqlx_migrations' AND t.name NOT LIKE 'projects_fts%' \
             ORDER BY 1, 2",
        )
        .fetch_all(&self.reader)
        .await?)
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

#[async_trait]
impl TxStore for SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn UnitOfWork>> {
        Ok(Box::new(sql::platform::PlatformTx::new(
            self.group.begin().await?,
        )))
    }
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn begin_org(&self, scope: &OrgScope) -> StoreResult<Box<dyn OrgUnit>> {
        let tx = self.group.begin().await?;
        Ok(Box::new(sql::org::OrgTx::new(tx, *scope)))
    }

    async fn read_org(&self, scope: &OrgScope) -> StoreResult<Box<dyn OrgUnit>> {
        let conn = self.reader.acquire().await?;
        Ok(Box::new(sql::org::OrgTx::pooled(conn, *scope)))
    }

    async fn orgs_of_user(
        &self,
        user: UserId,
        after: Option<OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<Membership>> {
        let mut conn = sql::org::PooledRead::for_user(self.reader.acquire().await?, user);
        sql::org::orgs_of_user(&mut conn, user, after, limit).await
    }
}

#[cfg(test)]
mod synchronous_tests {
    use super::*;

    async fn pragma_on_writer_and_reader(synchronous: Synchronous) -> (i64, i64) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let pool = SqlitePoolConfig {
            max_readers: 1,
            acquire_timeout: Duration::from_secs(5),
            synchronous,
        };
        let store = SqliteStore::connect(&url, pool).await.expect("open");
        let read = |pool: SqlitePool| async move {
            sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .expect("pragma")
        };
        (
            read(store.writer.clone()).await,
            read(store.reader.clone()).await,
        )
    }

    #[tokio::test]
    async fn every_connection_uses_the_configured_mode() {
        // SQLite's codes: 1 = NORMAL, 2 = FULL.
        assert_eq!(pragma_on_writer_and_reader(Synchronous::Full).await, (2, 2));
        assert_eq!(
            pragma_on_writer_and_reader(Synchronous::Normal).await,
            (1, 1)
        );
    }
}
