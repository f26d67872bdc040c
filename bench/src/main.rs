//! `tenantbase-bench`: starts the release server, runs named load scenarios against it on
//! loopback for a bounded time, and prints one JSON line per scenario (requests/s,
//! p50/p95/p99 latency, errors, the server's idle and peak RSS, cold start to ready).

mod load;
mod server;
mod store_load;

use std::time::Duration;

use clap::{Parser, ValueEnum};

use server::{Backend, Server};

#[derive(Debug, Parser)]
#[command(about = "Load scenarios against the tenantbase release binary, on loopback only.")]
struct Args {
    /// Scenarios to run, in order.
    #[arg(long = "scenario", value_enum, default_values_t = [
        Scenario::Health, Scenario::ReadySqlite, Scenario::ReadyPostgres,
        Scenario::AppendOneChainSqlite, Scenario::AppendOneChainPostgres,
        Scenario::Append100OrgsSqlite, Scenario::Append100OrgsPostgres,
        Scenario::JobsNoopSqlite, Scenario::JobsNoopPostgres,
    ])]
    scenarios: Vec<Scenario>,
    /// Seconds of load per scenario (at most 300).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    duration: u64,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Threads of the load generator; the rest of the machine is the server's.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Stop after this many requests per scenario, whatever the time.
    #[arg(long, default_value_t = 50_000_000)]
    max_requests: u64,
    /// The server binary.
    #[arg(long, default_value = "target/release/tenantbase")]
    server: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// `GET /health`: the ceiling for every other route.
    Health,
    /// `GET /ready` on SQLite: one database round trip and one object-store stat.
    ReadySqlite,
    /// `GET /ready` on PostgreSQL (TEST_DATABASE_URL or the local default).
    ReadyPostgres,
    /// Audit appends (one unit of work each) to a single org's chain, SQLite.
    AppendOneChainSqlite,
    /// Audit appends to a single org's chain, PostgreSQL.
    AppendOneChainPostgres,
    /// Audit appends spread over 100 orgs' chains, SQLite.
    Append100OrgsSqlite,
    /// Audit appends spread over 100 orgs' chains, PostgreSQL.
    Append100OrgsPostgres,
    /// 20,000 no-op jobs drained by one worker, SQLite.
    JobsNoopSqlite,
    /// 20,000 no-op jobs drained by one worker, PostgreSQL.
    JobsNoopPostgres,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Health => "health",
            Scenario::ReadySqlite => "ready-sqlite",
            Scenario::ReadyPostgres => "ready-postgres",
            Scenario::AppendOneChainSqlite | Scenario::AppendOneChainPostgres => "append-one-chain",
            Scenario::Append100OrgsSqlite | Scenario::Append100OrgsPostgres => "append-100-orgs",
            Scenario::JobsNoopSqlite | Scenario::JobsNoopPostgres => "jobs-noop",
        }
    }

    fn backend(self) -> Backend {
        match self {
            Scenario::ReadyPostgres
            | Scenario::AppendOneChainPostgres
            | Scenario::Append100OrgsPostgres
            | Scenario::JobsNoopPostgres => Backend::Postgres,
            _ => Backend::Sqlite,
        }
    }

    /// The HTTP path this scenario loads, or `None` for in-process store scenarios.
    fn path(self) -> Option<&'static str> {
        match self {
            Scenario::Health => Some("/health"),
            Scenario::ReadySqlite | Scenario::ReadyPostgres => Some("/ready"),
            _ => None,
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    for scenario in &args.scenarios {
        let line = runtime.block_on(run(&args, *scenario))?;
        println!("{line}");
    }
    Ok(())
}

async fn run(args: &Args, scenario: Scenario) -> anyhow::Result<serde_json::Value> {
    let Some(path) = scenario.path() else {
        return run_in_process(args, scenario).await;
    };
    let server = Server::start(&args.server, scenario.backend()).await?;
    let idle_rss = server.rss_bytes();
    let sampler = server.sample_peak_rss(Duration::from_millis(20));
    let limits = load::Limits {
        connections: args.connections,
        duration: Duration::from_secs(args.duration),
        max_requests: args.max_requests,
    };
    let report = load::run(server.addr, path, limits).await?;
    let peak_rss = sampler.stop();
    let mib = |bytes: u64| (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0;
    Ok(serde_json::json!({
        "scenario": scenario.name(),
        "backend": scenario.backend().name(),
        "connections": args.connections,
        "client_threads": args.client_threads,
        "duration_s": report.elapsed.as_secs_f64(),
        "requests": report.requests,
        "rps": (report.requests as f64 / report.elapsed.as_secs_f64()).round(),
        "p50_ms": report.percentile_ms(50.0),
        "p95_ms": report.percentile_ms(95.0),
        "p99_ms": report.percentile_ms(99.0),
        "errors": report.errors,
        "cold_start_ms": (server.cold_start.as_secs_f64() * 10_000.0).round() / 10.0,
        "server_idle_rss_mib": mib(idle_rss),
        "server_peak_rss_mib": mib(peak_rss),
    }))
}

async fn run_in_process(args: &Args, scenario: Scenario) -> anyhow::Result<serde_json::Value> {
    let duration = Duration::from_secs(args.duration);
    let backend = scenario.backend();
    let mut figures = match scenario {
        Scenario::AppendOneChainSqlite | Scenario::AppendOneChainPostgres => {
            store_load::appends(backend, 1, duration, args.max_requests).await?
        }
        Scenario::Append100OrgsSqlite | Scenario::Append100OrgsPostgres => {
            store_load::appends(backend, 100, duration, args.max_requests).await?
        }
        _ => store_load::noop_jobs(backend, 20_000, duration * 6).await?,
    };
    figures["scenario"] = scenario.name().into();
    figures["backend"] = backend.name().into();
    Ok(figures)
}
