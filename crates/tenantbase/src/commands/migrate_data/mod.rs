//! `tenantbase migrate-data --to postgres://… [--files-to s3://…|azure://…]`: copies the
//! SQLite deployment the configuration points at to an empty PostgreSQL database (after
//! running its migrations), every table in an order its foreign keys accept, and then the
//! files. Resumable: the target keeps the run's progress (see `ledger`), so running the
//! same command again after Ctrl-C or a crash continues where it stopped.

mod files;
mod ledger;
mod progress;
mod rows;
mod schema;

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use secrecy::ExposeSecret;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{PgPool, SqlitePool};
use tenantbase_store::OpsStore;
use tenantbase_store_postgres::{PgPoolConfig, PgStore};

use crate::cli::MigrateDataArgs;
use crate::config::{Config, DatabaseKind};
use progress::Progress;
use rows::{Budget, Copied};
use schema::Table;

/// How long to wait for a connection to either database before giving up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The session advisory lock a run holds on the target ("tbmigrat" in ASCII); it goes
/// with the connection, so a killed run does not leave it behind.
const RUN_LOCK: i64 = 0x7462_6d69_6772_6174;

/// `Ok(false)` when the copy stopped before the end (interrupted, or `--max-batches`).
pub(crate) async fn run(config: &Config, args: MigrateDataArgs) -> anyhow::Result<bool> {
    if config.database_kind()? != DatabaseKind::Sqlite {
        bail!("migrate-data copies a SQLite deployment, but database_url is a PostgreSQL one");
    }
    // A bad --files-to fails now, not after the database copy.
    let files_target = args
        .files_to
        .as_deref()
        .map(|url| files::target_config(config, url))
        .transpose()?;
    let (source, source_name) = open_source(config.database_url().expose_secret()).await?;
    let target = open_target(&args.to).await?;
    schema::check_same_version(&source, &target).await?;
    let tables = schema::target_tables(&target).await?;

    let finished = match ledger::load(&target).await? {
        None => {
            let holding = schema::non_empty(&target, &tables).await?;
            if !holding.is_empty() {
                bail!(
                    "the target database is not empty: {} already hold rows \
                     (migrate-data fills only a database that has nothing but its migrations)",
                    holding.join(", ")
                );
            }
            ledger::start(&target, &source_name, &tables).await?;
            println!("copying {source_name} to the target database");
            false
        }
        Some(run) if run.source != source_name => bail!(
            "the target database holds a migrate-data run of another source ({}): \
             refusing to mix {source_name} into it",
            run.source
        ),
        Some(run) => {
            if !run.finished {
                println!("resuming the copy of {source_name} where it stopped");
            }
            run.finished
        }
    };
    if finished {
        println!("database: the copy is already complete");
    } else {
        let interrupted = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn({
            let interrupted = interrupted.clone();
            async move {
                crate::serve::wait_for_signal().await;
                eprintln!("interrupted: stopping after the batch in flight (again to stop now)");
                interrupted.store(true, Ordering::SeqCst);
                // A second signal does not wait for the batch: PostgreSQL rolls it back
                // when the connection drops, and the next run redoes it.
                crate::serve::wait_for_signal().await;
                eprintln!("interrupted again: stopping now");
                std::process::exit(130);
            }
        });
        let mut budget = Budget {
            batch_size: args.batch_size as usize,
            batches_left: args.max_batches,
            interrupted: &interrupted,
        };
        let copied = copy_tables(&source, &target, &tables, &mut budget).await;
        watcher.abort();
        if !copied? {
            println!("stopped before the end: run the same command again to continue");
            return Ok(false);
        }
    }
    source.close().await;
    target.close().await;
    if let Some(files_target) = files_target {
        files::copy_objects(config, &files_target).await?;
    }
    Ok(true)
}

/// Every table from where the ledger says it stands; then sequences, a row count check,
/// and the run marked complete. `Ok(false)` when the budget stopped it.
async fn copy_tables(
    source: &SqlitePool,
    target: &PgPool,
    tables: &[Table],
    budget: &mut Budget<'_>,
) -> anyhow::Result<bool> {
    let mut pending = Vec::new();
    let mut left = 0;
    for table in tables {
        let progress = ledger::table(target, &table.name).await?;
        if !progress.done {
            let rows = schema::source_rows(source, table).await?;
            left += rows.saturating_sub(progress.rows_copied);
            pending.push((table, progress));
        }
    }
    let mut meter = Progress::new("rows", left);
    for (table, progress) in pending {
        match rows::copy_table(source, target, table, progress, budget, &mut meter).await? {
            Copied::Done(rows) => meter.part_done(&table.name, rows),
            Copied::Stopped => return Ok(false),
        }
    }
    rows::advance_sequences(target, tables).await?;
    for table in tables {
        let there = schema::source_rows(source, table).await?;
        let sql = format!("SELECT count(*) FROM {}", schema::quote(&table.name));
        let here: i64 = sqlx::query_scalar(&sql).fetch_one(target).await?;
        if u64::try_from(here).ok() != Some(there) {
            bail!(
                "{}: the source has {there} rows, the target {here}: was the source written \
                 to during the copy? (stop every server and worker first)",
                table.name
            );
        }
    }
    ledger::finish(target).await?;
    meter.finish();
    println!("database: every table copied; row counts match");
    Ok(true)
}

/// The source, read-only (the copy never writes it), and its canonical path, which
/// names the run in the target's ledger.
async fn open_source(url: &str) -> anyhow::Result<(SqlitePool, String)> {
    let options = SqliteConnectOptions::from_str(url)
        .context("parsing database_url")?
        .read_only(true)
        .create_if_missing(false);
    let path = std::fs::canonicalize(options.get_filename())
        .with_context(|| format!("the source database {}", options.get_filename().display()))?;
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .context("opening the source SQLite database")?;
    Ok((pool, path.display().to_string()))
}

/// Connects as the login role itself (not the runtime role the server switches to),
/// which must get past row-level security to write every org's rows — checked before
/// anything is written — then runs the target's migrations.
async fn open_target(url: &str) -> anyhow::Result<PgPool> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("--to must be a postgres:// URL");
    }
    // One connection for the whole run, never recycled: it holds the run's lock.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await
        .context("connecting to the target database")?;
    let (role, allowed): (String, bool) = sqlx::query_as(
        "SELECT rolname::text, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user",
    )
    .fetch_one(&pool)
    .await
    .context("reading the target login role")?;
    if !allowed {
        bail!(
            "the role {role} is subject to row-level security and cannot write every org's rows: \
             connect --to as a superuser or a role with BYPASSRLS (ALTER ROLE {role} BYPASSRLS)"
        );
    }
    // Two runs into one database would interleave their batches and ledger updates.
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(RUN_LOCK)
        .fetch_one(&pool)
        .await
        .context("locking the target for this run")?;
    if !locked {
        bail!("another migrate-data run is copying into this database; wait for it to end");
    }
    let store = PgStore::connect(
        url,
        PgPoolConfig {
            max_connections: 1,
            acquire_timeout: CONNECT_TIMEOUT,
        },
    )
    .context("parsing --to")?;
    let report = store
        .migrate()
        .await
        .context("running the target's migrations")?;
    store.close().await;
    println!(
        "target: {} migrations applied now, {} already applied",
        report.applied.len(),
        report.already_applied
    );
    Ok(pool)
}
