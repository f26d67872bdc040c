//! The `tenantbase` command: parses the command line and runs the chosen subcommand.

use clap::Parser;

/// mimalloc's per-thread heaps: glibc's arenas took a tenth of a loaded server's CPU in
/// allocation and lock contention (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = tenantbase::cli::Cli::parse();
    match tenantbase::run(cli).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
