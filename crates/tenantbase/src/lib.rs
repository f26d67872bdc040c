//! The tenantbase binary's library half: configuration, the command line, and the
//! subcommands that wire the store, object storage, jobs and HTTP layers together.

mod background;
pub mod cli;
mod commands;
pub mod config;
mod connect;
mod data_dir;
pub mod files_config;
mod http_server;
mod identity;
mod in_use;
mod management;
mod reload;
mod serve;
mod telemetry;

use cli::{Cli, Command};
use config::Config;

/// Runs one invocation of the command line; `Ok(false)` means it ran but found a problem
/// it reported (e.g. a broken audit chain), so the process exits with 1.
pub async fn run(cli: Cli) -> anyhow::Result<bool> {
    // These print what the code defines: no configuration, database or keys needed.
    match &cli.command {
        Command::Openapi => {
            let document = tenantbase_http::openapi();
            println!("{}", serde_json::to_string_pretty(&document)?);
            return Ok(true);
        }
        Command::Permissions => return commands::permissions::run().map(|()| true),
        _ => {}
    }
    let overrides = cli.overrides();
    let config = Config::load(&overrides)?;
    match cli.command {
        Command::Openapi | Command::Permissions => Ok(true),
        Command::Migrate => commands::migrate::run(&config).await.map(|()| true),
        Command::Serve(args) => {
            let telemetry = telemetry::init(&config)?;
            let served = serve::serve(config, overrides, !args.no_migrate, &telemetry).await;
            telemetry.shutdown().await;
            served
        }
        Command::Worker(args) => {
            let telemetry = telemetry::init(&config)?;
            let worked = commands::worker::run(&config, args.concurrency).await;
            telemetry.shutdown().await;
            worked
        }
        Command::Audit(command) => commands::audit::run(&config, command).await,
        Command::Jobs(command) => commands::jobs::run(&config, command).await.map(|()| true),
        Command::Keys(command) => commands::keys::run(&config, command).await.map(|()| true),
        Command::MigrateData(args) => commands::migrate_data::run(&config, args).await,
        Command::Backup(args) => commands::backup::create::run(&config, &args.out)
            .await
            .map(|()| true),
        Command::Restore(args) => commands::backup::restore::run(&config, &args.from, args.force)
            .await
            .map(|()| true),
    }
}
