//! The command line: global options shared by every subcommand, then the subcommand.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Overrides;

/// The backend foundation of a multi-tenant SaaS: identity, organizations, access
/// control, tenant-isolated data and operations, in one binary.
///
/// Settings come from built-in defaults, then the TOML file given by --config, then
/// TENANTBASE_* environment variables (nested keys with `__`, e.g.
/// TENANTBASE_HTTP__BODY_LIMIT_BYTES) and DATABASE_URL, then these flags.
#[derive(Debug, Parser)]
#[command(name = "tenantbase", version, propagate_version = true)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Folder for the embedded database, object store and generated keys [default: ./data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Database: postgres://user@host/db or sqlite://path [default: SQLite in the data
    /// folder]. Prefer the DATABASE_URL variable for URLs with passwords: flags are visible
    /// to other users of the machine.
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server, with job workers and schedules (applies pending migrations
    /// first unless --no-migrate).
    Serve(ServeArgs),
    /// Run job workers and schedules only, for a separate deployment.
    Worker(WorkerArgs),
    /// Apply pending database migrations and print what was applied.
    Migrate,
    /// Verify, export or archive the audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Inspect and retry background jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Manage the keys that sign access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Print the OpenAPI 3.1 document of the HTTP API.
    Openapi,
    /// Copy this SQLite deployment (database, and with --files-to its files) to an empty
    /// PostgreSQL database; an interrupted run continues where it stopped when run again.
    MigrateData(MigrateDataArgs),
    /// Print the permission catalog (names and descriptions) as JSON.
    Permissions,
    /// Write the database (an online snapshot: the server may keep running), the local
    /// files and the data folder's keys to one archive (SQLite deployments).
    Backup(BackupArgs),
    /// Restore a `backup` archive into the data folder, after verifying every checksum.
    Restore(RestoreArgs),
}

#[derive(Debug, Args)]
pub struct MigrateDataArgs {
    /// The PostgreSQL database to fill: postgres://user@host/db, as a superuser or a role
    /// with BYPASSRLS (it writes every org's rows). Prefer the TARGET_DATABASE_URL
    /// variable for URLs with passwords.
    #[arg(
        long,
        env = "TARGET_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub to: String,

    /// Also copy the files from the local folder to s3://BUCKET or azure://CONTAINER; the
    /// rest of the target store's settings come from files.s3.* or files.azure.*.
    #[arg(long, value_name = "URL")]
    pub files_to: Option<String>,

    /// Rows per transaction.
    #[arg(long, default_value_t = 1000, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,

    /// Stop after N batches, as if interrupted (for testing resumption).
    #[arg(long, hide = true, value_name = "N")]
    pub max_batches: Option<u64>,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The archive to write (a gzip-compressed tar); it must not exist yet.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The archive `tenantbase backup` wrote.
    #[arg(long, value_name = "FILE")]
    pub from: PathBuf,
    /// Replace a data folder or database that is not empty (stop every server and worker
    /// on it first).
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Jobs run at once [default: jobs.workers, at least 1].
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk the hash chains; print `ok N events` per chain or the first broken link.
    /// Exits with 1 when a chain is broken.
    Verify {
        /// Only this org's chain (`org_…`, or `platform`).
        #[arg(long, value_name = "ID")]
        org: Option<String>,
    },
    /// Stream one org's events to standard output.
    Export {
        /// The org (`org_…`, or `platform` for platform events).
        #[arg(long, value_name = "ID")]
        org: String,
        #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
        format: ExportFormat,
        /// Only events at or after this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Only events before this time (RFC 3339).
        #[arg(long, value_name = "TIME")]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Archive events older than the retention now (instead of waiting for the schedule).
    Archive {
        /// Age in days [default: audit.retention_days].
        #[arg(long, value_name = "DAYS")]
        older_than_days: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Add a new signing key and retire the active one; its tokens verify until they
    /// expire. Running servers switch to the new key within a minute.
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    List {
        /// queued, running, succeeded or dead.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// List dead-lettered jobs with the reason they failed.
    Dead {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Put a dead job back in the queue with fresh attempts.
    Retry {
        /// The job (`job_…`).
        id: String,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Do not apply pending migrations at start.
    #[arg(long)]
    pub no_migrate: bool,
}

impl Cli {
    /// The settings given as flags, which win over every other source.
    pub fn overrides(&self) -> Overrides {
        Overrides {
            config_file: self.config.clone(),
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            listen: match &self.command {
                Command::Serve(args) => args.listen,
                _ => None,
            },
        }
    }
}
