//! The tenantbase binary's library half: configuration, the command line, and the
//! subcommands that wire the store, object storage and HTTP layers together.

pub mod cli;
pub mod config;
mod connect;
mod serve;
mod telemetry;

use cli::{Cli, Command};
use config::Config;

/// Runs one invocation of the command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Openapi => {
            let document = tenantbase_http::openapi();
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(())
        }
        Command::Migrate => {
            let config = Config::load(&cli.overrides())?;
            migrate(&config).await
        }
        Command::Serve(args) => {
            let config = Config::load(&cli.overrides())?;
            let _log = telemetry::init(&config.log)?;
            serve::serve(config, !args.no_migrate).await
        }
    }
}

/// `tenantbase migrate`: applies pending migrations and says what it did.
async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = connect::open_store(config).await?;
    let report = store.migrate().await?;
    let backend = store.backend().as_str();
    for migration in &report.applied {
        println!(
            "applied {:04} {} ({backend})",
            migration.version, migration.description
        );
    }
    println!(
        "{backend}: {} applied now, {} already applied; schema is up to date",
        report.applied.len(),
        report.already_applied
    );
    store.close().await;
    Ok(())
}
