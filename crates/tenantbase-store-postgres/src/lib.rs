//! The PostgreSQL backend of the tenantbase store, for scale-out deployments. Org-owned
//! tables carry row-level security keyed on the transaction-local setting `app.org_id`;
//! `begin_scoped` is the only way this crate opens a unit of work on org data.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction, migrate::Migrator};
use tenantbase_store::{
    Backend, MigrationReport, OpsStore, OrgScope, PoolStats, StoreResult, TxStore, UnitOfWork,
    migrations,
};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Concurrent workers skip rows another worker is claiming (see `claim_sql`).
const CLAIM_ROW_LOCK: &str = "FOR UPDATE SKIP LOCKED";

/// Row locks for reads that must serialize with writers (`lock_user`).
const USER_ROW_LOCK: &str = "FOR UPDATE";

tenantbase_store::shared_statements!(sqlx::Postgres);
tenantbase_store::identity_statements!(sqlx::Postgres);
tenantbase_store::store_areas!(PgStore, reader: pool, writer: pool);

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
impl TxStore for PgStore {
    async fn begin(&self) -> StoreResult<Box<dyn UnitOfWork>> {
        Ok(Box::new(shared::Unit::new(self.pool.begin().await?)))
    }
}
