//! The PostgreSQL backend of the tenantbase store, for scale-out deployments. Org-owned
//! tables carry row-level security keyed on the transaction-local setting `app.org_id`;
//! `begin_scoped` is the only way this crate opens a unit of work on org data.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction, migrate::Migrator};
use tenantbase_domain::JobId;
use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_store::events::{ChainHead, Event};
use tenantbase_store::identity::{Session, SigningKeyRow, User};
use tenantbase_store::jobs::{ClaimedJob, Job, JobState, QueueDepth};
use tenantbase_store::sql::ClaimedRow;
use tenantbase_store::sql::run;
use tenantbase_store::{
    Backend, MigrationReport, OpsStore, OrgScope, PoolStats, Setting, SettingsStore, StoreResult,
    migrations,
};
use tenantbase_store::{EventStore, IdentityStore, JobStore, TxStore, UnitOfWork};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Concurrent workers skip rows another worker is claiming (see `claim_sql`).
const CLAIM_ROW_LOCK: &str = "FOR UPDATE SKIP LOCKED";

tenantbase_store::shared_statements!(sqlx::Postgres);
tenantbase_store::identity_statements!(sqlx::Postgres);

/// Pool sizing for the PostgreSQL backend.
#[derive(Debug, Clone, Copy)]
pub struct PgPoolConfig {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

/// The store over one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects lazily: the pool opens connections on first use, so a server can start
    /// (and report "not ready") while the database is down.
    pub fn connect(url: &str, pool: PgPoolConfig) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout)
            .connect_lazy(url)?;
        Ok(Self { pool })
    }

    /// Opens a transaction confined to `scope`'s org: row-level security sees
    /// `app.org_id` for this transaction only (`set_config(…, true)` is `SET LOCAL`), so a
    /// pooled connection never carries one request's org into the next.
    pub async fn begin_scoped(
        &self,
        scope: &OrgScope,
    ) -> StoreResult<Transaction<'static, Postgres>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT set_config('app.org_id', $1, true)")
            .bind(scope.org_id().as_uuid().to_string())
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

#[async_trait]
impl OpsStore for PgStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            size: self.pool.size(),
            idle: self.pool.num_idle() as u32,
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn migrate(&self) -> StoreResult<MigrationReport> {
        migrations::apply(&MIGRATOR, &self.pool).await
    }

    async fn logical_schema(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations' \
             ORDER BY 1, 2",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

#[async_trait]
impl SettingsStore for PgStore {
    async fn get_setting(&self, key: &str) -> StoreResult<Option<Setting>> {
        run::get_setting(&self.pool, key).await
    }

    async fn put_setting(&self, key: &str, value: &serde_json::Value) -> StoreResult<Setting> {
        run::put_setting(&self.pool, key, value).await
    }

    async fn delete_setting(&self, key: &str) -> StoreResult<()> {
        run::delete_setting(&self.pool, key).await
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn events_after(
        &self,
        chain: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Event>> {
        shared::events_after(&self.pool, chain, after_seq, limit).await
    }

    async fn chain_heads(&self) -> StoreResult<Vec<ChainHead>> {
        shared::chain_heads(&self.pool).await
    }
}

#[async_trait]
impl JobStore for PgStore {
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
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(ClaimedJob::try_from).collect()
    }

    async fn complete_jobs(
        &self,
        ids: &[JobId],
        worker: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        shared::complete_jobs(&self.pool, ids, worker, now).await
    }

    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        shared::fail_job(&self.pool, id, worker, error, retry_at, now).await
    }

    async fn list_jobs(&self, state: Option<JobState>, limit: u32) -> StoreResult<Vec<Job>> {
        shared::list_jobs(&self.pool, state, limit).await
    }

    async fn get_job(&self, id: JobId) -> StoreResult<Job> {
        shared::get_job(&self.pool, id).await
    }

    async fn queue_depth(&self) -> StoreResult<Vec<QueueDepth>> {
        shared::queue_depth(&self.pool).await
    }

    async fn delete_finished_jobs(&self, before: DateTime<Utc>) -> StoreResult<u64> {
        shared::delete_finished_jobs(&self.pool, before).await
    }
}

#[async_trait]
impl TxStore for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn UnitOfWork>> {
        Ok(Box::new(shared::Unit::new(self.pool.begin().await?)))
    }
}

#[async_trait]
impl IdentityStore for PgStore {
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        identity_sql::user_by_email(&self.pool, email).await
    }

    async fn user_by_id(&self, id: UserId) -> StoreResult<User> {
        identity_sql::user_by_id(&self.pool, id).await
    }

    async fn session_by_id(&self, id: SessionId) -> StoreResult<Session> {
        identity_sql::session_by_id(&self.pool, id).await
    }

    async fn live_sessions(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<Session>> {
        identity_sql::live_sessions(&self.pool, user_id, now).await
    }

    async fn touch_session(
        &self,
        id: SessionId,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        identity_sql::touch_session(&self.pool, id, now, idle_expires_at).await
    }

    async fn signing_keys(&self) -> StoreResult<Vec<SigningKeyRow>> {
        identity_sql::signing_keys(&self.pool).await
    }
}
