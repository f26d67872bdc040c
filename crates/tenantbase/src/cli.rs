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
    /// Run the HTTP server (applies pending migrations first unless --no-migrate).
    Serve(ServeArgs),
    /// Apply pending database migrations and print what was applied.
    Migrate,
    /// Print the OpenAPI 3.1 document of the HTTP API.
    Openapi,
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
