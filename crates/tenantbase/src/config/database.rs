//! `[database]`: pools, and how durable a SQLite commit is.

use serde::Deserialize;
use tenantbase_store_sqlite::Synchronous;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Pool size (PostgreSQL), or read connections (SQLite, which adds one writer). Unset:
    /// `Config::max_connections`'s default for the backend.
    pub max_connections: Option<u32>,
    /// How long a query waits for a free connection before failing with 503.
    pub acquire_timeout_ms: u64,
    /// SQLite only: `full` fsyncs every COMMIT; `normal` leaves the fsync to checkpoints,
    /// so a power cut can undo acknowledged writes (see `Synchronous::Normal`).
    pub sqlite_synchronous: Synchronous,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self {
            max_connections: None,
            acquire_timeout_ms: 3000,
            sqlite_synchronous: Synchronous::Full,
        }
    }
}
