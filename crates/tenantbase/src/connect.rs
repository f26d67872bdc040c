//! Opens the configured database as an `Arc<dyn Store>`: the one place that knows which
//! backends exist.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use secrecy::ExposeSecret;
use tenantbase_store::Store;
use tenantbase_store_postgres::{PgPoolConfig, PgStore};
use tenantbase_store_sqlite::{SqlitePoolConfig, SqliteStore};

use crate::config::{Config, DatabaseKind};

pub(crate) async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = config.database_url();
    let acquire_timeout = Duration::from_millis(config.database.acquire_timeout_ms);
    let store: Arc<dyn Store> = match config.database_kind()? {
        DatabaseKind::Sqlite => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("creating data folder {}", config.data_dir.display()))?;
            Arc::new(open_sqlite(config, url.expose_secret()).await?)
        }
        DatabaseKind::Postgres => {
            let pool = PgPoolConfig {
                max_connections: config.max_connections(),
                acquire_timeout,
            };
            Arc::new(PgStore::connect(url.expose_secret(), pool).context("parsing database_url")?)
        }
    };
    Ok(store)
}

/// The SQLite store at `url` with the configured pool: the configured database, or a
/// copy of one (`restore` checks a staged database before it takes its place).
pub(crate) async fn open_sqlite(config: &Config, url: &str) -> anyhow::Result<SqliteStore> {
    let pool = SqlitePoolConfig {
        max_readers: config.max_connections(),
        acquire_timeout: Duration::from_millis(config.database.acquire_timeout_ms),
        synchronous: config.database.sqlite_synchronous,
    };
    SqliteStore::connect(url, pool)
        .await
        .context("opening the SQLite database")
}
