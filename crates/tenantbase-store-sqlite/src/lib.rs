//! The SQLite backend of the tenantbase store, the embedded default. The database runs in
//! WAL mode with `synchronous=FULL`, so an acknowledged write survives a power cut; all
//! writes go through a single connection (SQLite allows one writer at a time, and queueing
//! in the pool beats `SQLITE_BUSY` retries) while reads use a pool of read-only connections.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlitePool, migrate::Migrator};
use tenantbase_store::{
    Backend, MigrationReport, OpsStore, PoolStats, StoreResult, TxStore, UnitOfWork, migrations,
};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// SQLite has one writer at a time: claims need no row lock.
const CLAIM_ROW_LOCK: &str = "";

/// SQLite units hold the database write lock: rows need no lock of their own.
const USER_ROW_LOCK: &str = "";

tenantbase_store::shared_statements!(sqlx::Sqlite);
tenantbase_store::identity_statements!(sqlx::Sqlite);
tenantbase_store::store_areas!(SqliteStore, reader: reader, writer: writer);

/// How long a statement waits for the write lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Pool sizing for the SQLite backend.
#[derive(Debug, Clone, Copy)]
pub struct SqlitePoolConfig {
    /// Read-only connections; the writer is always one more.
    pub max_readers: u32,
    pub acquire_timeout: Duration,
}

/// The store over one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database at a `sqlite:` URL.
    pub async fn connect(url: &str, pool: SqlitePoolConfig) -> StoreResult<Self> {
        let base = SqliteConnectOptions::from_str(url)?
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true)
            .synchronous(SqliteSynchronous::Full);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(
                base.clone()
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal),
            )
            .await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(pool.max_readers.max(1))
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(base.read_only(true))
            .await?;
        Ok(Self { writer, reader })
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

    fn pool_stats(&self) -> PoolStats {
        let (writer, reader) = (&self.writer, &self.reader);
        PoolStats {
            size: writer.size() + reader.size(),
            idle: (writer.num_idle() + reader.num_idle()) as u32,
            max: writer.options().get_max_connections() + reader.options().get_max_connections(),
        }
    }

    async fn migrate(&self) -> StoreResult<MigrationReport> {
        migrations::apply(&MIGRATOR, &self.writer).await
    }

    async fn logical_schema(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT t.name, c.name FROM sqlite_schema t JOIN pragma_table_info(t.name) c \
             WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite_%' \
               AND t.name <> '_sqlx_migrations' \
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
        // IMMEDIATE takes the write lock up front: a unit that reads and then writes
        // cannot fail halfway when another process (a separate worker) writes meanwhile.
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        Ok(Box::new(shared::Unit::new(tx)))
    }
}
