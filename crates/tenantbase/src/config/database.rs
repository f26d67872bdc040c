//! `[database]`: pools, and how durable a SQLite commit is.

use serde::Deserialize;
use tenantbase_store_sqlite::Synchronous;

use super::{Config, DatabaseKind};

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

impl Config {
    /// `database.max_connections`, or the backend's default: SQLite's readers, or the
    /// PostgreSQL pool, whose writes take half of it.
    pub fn max_connections(&self) -> u32 {
        let default = match self.database_kind() {
            Ok(DatabaseKind::Sqlite) => SQLITE_READERS,
            _ => POSTGRES_POOL,
        };
        self.database.max_connections.unwrap_or(default)
    }

    /// `http.max_concurrent_writes`, or the backend's default.
    pub fn max_concurrent_writes(&self) -> usize {
        let default = match self.database_kind() {
            Ok(DatabaseKind::Sqlite) => SQLITE_WRITE_SLOTS,
            _ => (self.max_connections() as usize / 2).max(2),
        };
        self.http.max_concurrent_writes.unwrap_or(default)
    }
}

/// The default SQLite readers (its one writer comes on top).
const SQLITE_READERS: u32 = 10;

/// The default PostgreSQL pool, and so 16 writes at once. A pool of 10 (5 writes) left a
/// third of a 2-core machine idle under a create load: each write spends most of its time
/// waiting on round trips and its WAL flush, so more at once keep PostgreSQL busy
/// (project creates 1.34–1.43×, p99 ≈ 22 ms against 29–37; reads 0.91×, more server
/// processes sharing the cores; bench/RESULTS.md, twenty-second session). Three processes
/// fit PostgreSQL's default of 100 connections.
const POSTGRES_POOL: u32 = 32;

/// The default write slots on SQLite: a write waiting for the single writer holds no
/// connection, and the writes queued there share one COMMIT (ADR 0009), so the slots are
/// what a batch can carry rather than a share of the pool.
const SQLITE_WRITE_SLOTS: usize = 64;
