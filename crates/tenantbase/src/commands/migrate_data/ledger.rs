//! The run's bookkeeping, kept in the target beside the data it describes: which source
//! is being copied, and per table the last SQLite rowid copied. Each batch advances its
//! table's row in the same transaction as its rows, so after a crash the ledger and the
//! data agree and the next run continues from there. It lives in a schema of its own so
//! that the application's schema (and its checks) never see it.

use anyhow::Context;
use sqlx::{PgPool, Postgres, Transaction};

use super::schema::Table;

const SCHEMA: &str = "tenantbase_migrate_data";

/// A run recorded in the target.
#[derive(Debug)]
pub(crate) struct Run {
    /// The source database, as the run that started it named it.
    pub source: String,
    pub finished: bool,
}

/// Where one table's copy stands.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableProgress {
    pub last_rowid: i64,
    pub rows_copied: u64,
    pub done: bool,
}

/// The run recorded in the target, if any.
pub(crate) async fn load(pg: &PgPool) -> anyhow::Result<Option<Run>> {
    let exists: bool =
        sqlx::query_scalar(&format!("SELECT to_regclass('{SCHEMA}.runs') IS NOT NULL"))
            .fetch_one(pg)
            .await
            .context("looking for an earlier migrate-data run in the target")?;
    if !exists {
        return Ok(None);
    }
    let run: Option<(String, bool)> = sqlx::query_as(&format!(
        "SELECT source, finished_at IS NOT NULL FROM {SCHEMA}.runs LIMIT 1"
    ))
    .fetch_optional(pg)
    .await
    .context("reading the earlier migrate-data run")?;
    Ok(run.map(|(source, finished)| Run { source, finished }))
}

/// Records a new run of `source` over `tables`, all at rowid 0, in one transaction.
pub(crate) async fn start(pg: &PgPool, source: &str, tables: &[Table]) -> anyhow::Result<()> {
    let mut tx = pg.begin().await?;
    for statement in [
        format!("CREATE SCHEMA IF NOT EXISTS {SCHEMA}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {SCHEMA}.runs (source TEXT NOT NULL, \
             started_at TIMESTAMPTZ NOT NULL DEFAULT now(), finished_at TIMESTAMPTZ)"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {SCHEMA}.tables (table_name TEXT PRIMARY KEY, \
             last_rowid BIGINT NOT NULL DEFAULT 0, rows_copied BIGINT NOT NULL DEFAULT 0, \
             done BOOLEAN NOT NULL DEFAULT false)"
        ),
    ] {
        sqlx::query(&statement).execute(&mut *tx).await?;
    }
    sqlx::query(&format!("INSERT INTO {SCHEMA}.runs (source) VALUES ($1)"))
        .bind(source)
        .execute(&mut *tx)
        .await?;
    for table in tables {
        sqlx::query(&format!(
            "INSERT INTO {SCHEMA}.tables (table_name) VALUES ($1)"
        ))
        .bind(&table.name)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit()
        .await
        .context("recording the run in the target")?;
    Ok(())
}

/// Where `table` stands; a table the run did not know when it started (a resume by a
/// newer binary whose migrations added one) starts from the beginning.
pub(crate) async fn table(pg: &PgPool, table: &str) -> anyhow::Result<TableProgress> {
    let row: Option<(i64, i64, bool)> = sqlx::query_as(&format!(
        "SELECT last_rowid, rows_copied, done FROM {SCHEMA}.tables WHERE table_name = $1"
    ))
    .bind(table)
    .fetch_optional(pg)
    .await
    .with_context(|| format!("reading the progress of {table}"))?;
    if row.is_none() {
        sqlx::query(&format!(
            "INSERT INTO {SCHEMA}.tables (table_name) VALUES ($1)"
        ))
        .bind(table)
        .execute(pg)
        .await?;
    }
    let (last_rowid, rows_copied, done) = row.unwrap_or((0, 0, false));
    Ok(TableProgress {
        last_rowid,
        rows_copied: u64::try_from(rows_copied).unwrap_or(0),
        done,
    })
}

/// Moves `table` past `progress`, inside the batch's transaction.
pub(crate) async fn advance(
    tx: &mut Transaction<'_, Postgres>,
    table: &str,
    progress: TableProgress,
) -> anyhow::Result<()> {
    sqlx::query(&format!(
        "UPDATE {SCHEMA}.tables SET last_rowid = $2, rows_copied = $3, done = $4 \
         WHERE table_name = $1"
    ))
    .bind(table)
    .bind(progress.last_rowid)
    .bind(i64::try_from(progress.rows_copied).unwrap_or(i64::MAX))
    .bind(progress.done)
    .execute(&mut **tx)
    .await
    .with_context(|| format!("recording the progress of {table}"))?;
    Ok(())
}

/// Marks the run complete: a later invocation has nothing left to copy.
pub(crate) async fn finish(pg: &PgPool) -> anyhow::Result<()> {
    sqlx::query(&format!("UPDATE {SCHEMA}.runs SET finished_at = now()"))
        .execute(pg)
        .await
        .context("marking the run complete")?;
    Ok(())
}
