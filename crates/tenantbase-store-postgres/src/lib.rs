//! The PostgreSQL backend of the tenantbase store, for scale-out deployments. Org-owned
//! tables carry row-level security keyed on the transaction-local setting `app.org_id`,
//! and every pooled connection runs as `tenantbase_app`, a role that owns nothing and
//! cannot bypass it (migration 0006). Migrations run on their own connection as the
//! login role.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Executor, PgPool, migrate::Migrator};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::Membership;
use tenantbase_store::{
    Backend, MigrationReport, OpsStore, OrgScope, OrgUnit, PoolStats, StoreError, StoreResult,
    TenantStore, TxStore, UnitOfWork, migrations, transactions,
};

mod dialect;

/// The statements both backends share (ADR 0001), compiled here for `dialect::Db`.
#[path = "../../tenantbase-store/sql/mod.rs"]
mod sql;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The role every pooled connection acts as: not the tables' owner, no BYPASSRLS.
pub const RUNTIME_ROLE: &str = "tenantbase_app";

/// An org unit's `BEGIN` and its org for row-level security, sent with the unit's first
/// statement (`pipeline_begin`). The org id is a UUID's hyphenated text (hex digits and
/// dashes only), so it is safe to inline. `SET LOCAL` rather than `SELECT set_config(…)`:
/// a utility statement, which PostgreSQL runs without planning — a quarter less of its
/// time for the pair (pgbench, bench/RESULTS.md).
fn begin_in_org(org: uuid::Uuid) -> String {
    format!("BEGIN; SET LOCAL app.org_id = '{org}'")
}

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
    /// (and report "not ready") while the database is down. Each connection switches to
    /// the runtime role as it opens.
    pub fn connect(url: &str, pool: PgPoolConfig) -> StoreResult<Self> {
        // A unit's `BEGIN` (and org setting) travels with its first statement, and a
        // connection whose unit committed goes back to the pool without a ping: a round
        // trip fewer per unit on the request's path, and one fewer per write after it
        // (vendor/README.md, ADR 0011).
        let options = PgConnectOptions::from_str(url)?
            .pipeline_begin(true)
            .skip_idle_ping(true);
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout)
            // No ping before each checkout (sqlx's default): it is a network round trip
            // per request. A connection the server dropped fails its next statement,
            // which answers 503 once and leaves the pool to open a fresh one.
            .test_before_acquire(false)
            .before_acquire(transactions::refuse_in_transaction)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute(format!("SET ROLE {RUNTIME_ROLE}").as_str())
                        .await?;
                    Ok(())
                })
            })
            .connect_lazy_with(options);
        Ok(Self { pool })
    }

    /// The pool the shared statements read through: the one pool.
    fn reader(&self) -> &PgPool {
        &self.pool
    }

    /// The pool the shared statements write through: the one pool.
    fn writer(&self) -> &PgPool {
        &self.pool
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

    async fn ping_writer(&self) -> StoreResult<()> {
        let standby: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&self.pool)
            .await?;
        if standby {
            return Err(StoreError::Invalid(
                "the server is a read-only standby".into(),
            ));
        }
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
        // As the login role, which may create the roles and own the tables; the runtime
        // role could do neither.
        let owner = PgPoolOptions::new()
            .max_connections(1)
            .connect_with((*self.pool.connect_options()).clone())
            .await?;
        let report = migrations::apply(&MIGRATOR, &owner).await;
        owner.close().await;
        report
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
        // Spelled out, so that it is pipelined with the unit's first statement.
        let tx = transactions::begin_detached(&self.pool, Some("BEGIN".into())).await?;
        Ok(Box::new(sql::platform::PlatformTx::new(tx)))
    }
}

#[async_trait]
impl TenantStore for PgStore {
    async fn begin_org(&self, scope: &OrgScope) -> StoreResult<Box<dyn OrgUnit>> {
        let begin = begin_in_org(scope.org_id().as_uuid());
        let tx = transactions::begin_detached(&self.pool, Some(begin.into())).await?;
        Ok(Box::new(sql::org::OrgTx::new(tx, *scope)))
    }

    async fn read_org(&self, scope: &OrgScope) -> StoreResult<Box<dyn OrgUnit>> {
        let conn = self.pool.acquire().await?;
        Ok(Box::new(sql::org::OrgTx::pooled(conn, *scope)))
    }

    async fn orgs_of_user(
        &self,
        user: UserId,
        after: Option<OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<Membership>> {
        // One statement carrying the user's setting for row-level security: no transaction.
        let mut conn = sql::org::PooledRead::for_user(self.pool.acquire().await?, user);
        sql::org::orgs_of_user(&mut conn, user, after, limit).await
    }
}
