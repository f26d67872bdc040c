//! Operational access to a backend: which one it is, whether it answers, its pool, and
//! its schema migrations.

use async_trait::async_trait;

use crate::{MigrationReport, StoreResult};

/// The database engine behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Connection pool occupancy, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections open now (busy and idle).
    pub size: u32,
    /// Open connections waiting for work.
    pub idle: u32,
    /// The most connections the pool may open.
    pub max: u32,
}

#[async_trait]
pub trait OpsStore: Send + Sync {
    fn backend(&self) -> Backend;

    /// One cheap round trip to the database.
    async fn ping(&self) -> StoreResult<()>;

    /// Whether a write could start now: SQLite's single writer connection can be had, a
    /// PostgreSQL server accepts writes (not a standby). `/ready` asks it: reads working
    /// says nothing of a wedged writer.
    async fn ping_writer(&self) -> StoreResult<()>;

    fn pool_stats(&self) -> PoolStats;

    /// Applies pending migrations and says which ran. Forward-only.
    async fn migrate(&self) -> StoreResult<MigrationReport>;

    /// Table and column names of the application schema, sorted, for comparing backends.
    async fn logical_schema(&self) -> StoreResult<Vec<(String, String)>>;

    /// Waits for open connections to finish and closes the pools.
    async fn close(&self);
}
