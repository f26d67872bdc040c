//! The SQLite backend of the tenantbase store, the embedded default. The database runs in
//! WAL mode with `synchronous=FULL`, so an acknowledged write survives a power cut; all
//! writes go through a single connection (SQLite allows one writer at a time, and queueing
//! in the pool beats `SQLITE_BUSY` retries) while reads use a pool of read-only connections.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlitePool, migrate::Migrator};
use tenantbase_domain::JobId;
use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_store::events::{ChainHead, Event};
use tenantbase_store::identity::{Session, SigningKeyRow, User};
use tenantbase_store::jobs::{ClaimedJob, Job, JobState, QueueDepth};
use tenantbase_store::sql::ClaimedRow;
use tenantbase_store::sql::run;
use tenantbase_store::{
    Backend, MigrationReport, OpsStore, PoolStats, Setting, SettingsStore, StoreResult, migrations,
};
use tenantbase_store::{EventStore, IdentityStore, JobStore, TxStore, UnitOfWork};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// SQLite has one writer at a time: claims need no row lock.
const CLAIM_ROW_LOCK: &str = "";

tenantbase_store::shared_statements!(sqlx::Sqlite);
tenantbase_store::identity_statements!(sqlx::Sqlite);

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
impl SettingsStore for SqliteStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<Setting>> {
        run::get_setting(&self.reader, key).await
    }

    async fn put_setting(&self, key: &str, value: &serde_json::Value) -> StoreResult<Setting> {
        run::put_setting(&self.writer, key, value).await
    }

    async fn delete_setting(&self, key: &str) -> StoreResult<()> {
        run::delete_setting(&self.writer, key).await
    }
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn events_after(
        &self,
        chain: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        shared::events_after(&self.reader, chain, after_seq, limit).await
    }

    async fn chain_heads(&self) -> StoreResult<Vec<ChainHead>> {
        shared::chain_heads(&self.reader).await
    }
}

#[async_trait]
impl JobStore for SqliteStore {
    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>> {
        let lease = chrono::Duration::from_std(lease).unwrap_or(chrono::Duration::MAX);
        let rows: Vec<ClaimedRow> =
            sqlx::query_as(&tenantbase_store::shared::claim_sql(CLAIM_ROW_LOCK))
                .bind(worker)
                .bind(now + lease)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&self.writer)
                .await?;
        rows.into_iter().map(ClaimedJob::try_from).collect()
    }

    async fn complete_jobs(
        &self,
        ids: &[JobId],
        worker: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        shared::complete_jobs(&self.writer, ids, worker, now).await
    }

    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        shared::fail_job(&self.writer, id, worker, error, retry_at, now).await
    }

    async fn list_jobs(&self, state: Option<JobState>, limit: u32) -> StoreResult<Vec<Job>> {
        shared::list_jobs(&self.reader, state, limit).await
    }

    async fn get_job(&self, id: JobId) -> StoreResult<Job> {
        shared::get_job(&self.reader, id).await
    }

    async fn queue_depth(&self) -> StoreResult<Vec<QueueDepth>> {
        shared::queue_depth(&self.reader).await
    }

    async fn delete_finished_jobs(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        shared::delete_finished_jobs(&self.writer, before).await
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

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        identity_sql::user_by_email(&self.reader, email).await
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<User> {
        identity_sql::user_by_id(&self.reader, id).await
    }

    async fn session_by_id(&self, id: SessionId) -> StoreResult<Session> {
        identity_sql::session_by_id(&self.reader, id).await
    }

    async fn live_sessions(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Session>> {
        identity_sql::live_sessions(&self.reader, user_id, now).await
    }

    async fn touch_session(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        identity_sql::touch_session(&self.writer, id, now, idle_expires_at).await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
        identity_sql::signing_keys(&self.reader).await
    }
}
