//! `tenantbase-bench`: starts the release server, runs named load scenarios against it on
//! loopback for a bounded time, and prints one JSON line per scenario (requests/s,
//! p50/p95/p99 latency, errors, the server's idle and peak RSS, cold start to ready).
//! Store and job scenarios run in process against the same code.

mod auth_load;
mod file_load;
mod load;
mod mfa_load;
mod org_load;
mod seal_watch;
mod server;
mod store_load;

use std::time::Duration;

use clap::{Parser, ValueEnum};

use mfa_load::Connections;
use server::{Backend, Server};

#[derive(Debug, Parser)]
#[command(about = "Load scenarios against the tenantbase release binary, on loopback only.")]
struct Args {
    /// Scenarios to run, in order [default: all].
    #[arg(long = "scenario", value_enum)]
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
    /// wrk-style ending: at the deadline every connection closes with its request in
    /// flight (wrk does; the in-repo default lets each finish). Project scenarios then
    /// report how the server answers the first write and `/ready` after the cut.
    #[arg(long)]
    cut_off: bool,
}

impl Args {
    fn limits(&self) -> load::Limits {
        load::Limits {
            duration: Duration::from_secs(self.duration),
            max_requests: self.max_requests,
            cut_off: self.cut_off,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// `GET /health`: the ceiling for every other route.
    Health,
    /// `GET /ready` on SQLite: one database round trip and one object-store stat.
    ReadySqlite,
    /// `GET /ready` on PostgreSQL (TEST_DATABASE_URL or the local default).
    ReadyPostgres,
    /// `POST /v1/auth/login` (argon2id at production cost), SQLite.
    LoginSqlite,
    /// Project-get p99 alone, then during a flood of sign-ins from many addresses (argon2
    /// saturated, its queue full), SQLite.
    LoginFloodSqlite,
    /// `POST /v1/auth/guest`: a new guest account and session per request, SQLite.
    GuestSqlite,
    /// The same on PostgreSQL.
    GuestPostgres,
    /// `POST /v1/auth/refresh`, each connection rotating its own token, SQLite.
    RefreshSqlite,
    /// The same on PostgreSQL.
    RefreshPostgres,
    /// `GET /v1/auth/me` with a bearer token, SQLite.
    MeSqlite,
    /// The same on PostgreSQL.
    MePostgres,
    /// `GET /v1/auth/verify` (gateway forward-auth), SQLite.
    VerifySqlite,
    /// The same on PostgreSQL.
    VerifyPostgres,
    /// Median latency of failed sign-ins, existing vs unknown account (sequential).
    LoginTiming,
    /// Median latency of a password-only sign-in and of both steps of a TOTP sign-in
    /// (sequential, SQLite): the second step's cost against the first's.
    LoginTotp,
    /// The same on PostgreSQL.
    LoginTotpPostgres,
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
    /// `GET /v1/orgs/{org}/projects/{id}` over 200 projects, beside `/health`, SQLite.
    ProjectGetSqlite,
    /// The same on PostgreSQL.
    ProjectGetPostgres,
    /// `GET /v1/orgs/{org}/projects?limit=50`, beside `/health`, SQLite.
    ProjectListSqlite,
    /// The same on PostgreSQL.
    ProjectListPostgres,
    /// `POST /v1/orgs/{org}/projects` into one org, beside `/health`, SQLite.
    ProjectCreateSqlite,
    /// The same on PostgreSQL.
    ProjectCreatePostgres,
    /// `POST /v1/orgs/{org}/projects` spread over 16 orgs, beside `/health`, SQLite.
    ProjectCreateSpreadSqlite,
    /// The same on PostgreSQL.
    ProjectCreateSpreadPostgres,
    /// Project get and first-page list p99 with 1 org, then with 10,000 orgs and
    /// 1,000,000 projects, SQLite.
    ProjectScaleSqlite,
    /// The same on PostgreSQL.
    ProjectScalePostgres,
    /// `POST /v1/orgs/{org}/files`, 1 MiB each, local store, SQLite: MiB/s vs `dd`.
    #[value(name = "file-upload-1mib")]
    FileUpload1mib,
    /// `GET …/files/{id}/content` of a 1 MiB file: MiB/s vs `dd`.
    #[value(name = "file-download-1mib")]
    FileDownload1mib,
    /// 256 KiB `Range` reads across a 64 MiB file: MiB/s vs `dd`.
    FileDownloadRange,
    /// The server's RSS while one 1 GiB upload streams through it.
    #[value(name = "file-upload-1gib-rss")]
    FileUpload1gibRss,
}

impl Scenario {
    fn name(self) -> String {
        let full = self
            .to_possible_value()
            .map(|v| v.get_name().to_owned())
            .unwrap_or_default();
        full.trim_end_matches("-sqlite")
            .trim_end_matches("-postgres")
            .to_owned()
    }

    fn backend(self) -> Backend {
        let postgres = self
            .to_possible_value()
            .is_some_and(|v| v.get_name().ends_with("-postgres"));
        if postgres {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.client_threads.max(1))
        .enable_all()
        .build()?;
    let scenarios = if args.scenarios.is_empty() {
        Scenario::value_variants().to_vec()
    } else {
        args.scenarios.clone()
    };
    for scenario in scenarios {
        let mut line = runtime.block_on(run(&args, scenario))?;
        line["scenario"] = scenario.name().into();
        line["backend"] = scenario.backend().name().into();
        println!("{line}");
    }
    Ok(())
}

async fn run(args: &Args, scenario: Scenario) -> anyhow::Result<serde_json::Value> {
    let duration = Duration::from_secs(args.duration);
    let backend = scenario.backend();
    match scenario {
        Scenario::AppendOneChainSqlite | Scenario::AppendOneChainPostgres => {
            store_load::appends(backend, 1, duration, args.max_requests).await
        }
        Scenario::Append100OrgsSqlite | Scenario::Append100OrgsPostgres => {
            store_load::appends(backend, 100, duration, args.max_requests).await
        }
        Scenario::JobsNoopSqlite | Scenario::JobsNoopPostgres => {
            store_load::noop_jobs(backend, 20_000, duration * 6).await
        }
        Scenario::LoginTiming => {
            let server = Server::start(&args.server, backend).await?;
            let (known, unknown) = auth_load::failed_login_timing(server.addr, 100).await?;
            Ok(serde_json::json!({
                "rounds": 100,
                "known_account_p50_ms": known,
                "unknown_account_p50_ms": unknown,
                "difference_ms": ((known - unknown).abs() * 1000.0).round() / 1000.0,
            }))
        }
        Scenario::LoginTotp | Scenario::LoginTotpPostgres => {
            let server = Server::start(&args.server, backend).await?;
            // Each round enrols an account (a TOTP code works once): 50, or fewer with
            // `--max-requests` for a quick smoke run.
            let rounds = usize::try_from(args.max_requests.min(50)).unwrap_or(50);
            // Per step first: what the earlier sessions measured, in the same run.
            let mut report = serde_json::json!({"rounds": rounds});
            for connections in [Connections::PerStep, Connections::PerSignIn] {
                let timing = mfa_load::totp_sign_in_timing(&server, rounds, connections).await?;
                report[connections.as_str()] = totp_report(&timing);
            }
            Ok(report)
        }
        Scenario::ProjectGetSqlite
        | Scenario::ProjectGetPostgres
        | Scenario::ProjectListSqlite
        | Scenario::ProjectListPostgres
        | Scenario::ProjectCreateSqlite
        | Scenario::ProjectCreatePostgres
        | Scenario::ProjectCreateSpreadSqlite
        | Scenario::ProjectCreateSpreadPostgres
        | Scenario::ProjectScaleSqlite
        | Scenario::ProjectScalePostgres => org_scenario(args, scenario).await,
        Scenario::FileUpload1mib
        | Scenario::FileDownload1mib
        | Scenario::FileDownloadRange
        | Scenario::FileUpload1gibRss => file_scenario(args, scenario).await,
        Scenario::LoginFloodSqlite => login_flood_scenario(args).await,
        _ => http_scenario(args, scenario).await,
    }
}

/// The medians of a TOTP sign-in against a password-only one, and the second step's
/// shares of the first: the target is below 5 %, in latency and in server CPU.
fn totp_report(timing: &mfa_load::TotpTiming) -> serde_json::Value {
    let pct = |part: f64, whole: f64| (part / whole * 1000.0).round() / 10.0;
    serde_json::json!({
        "password_only_p50_ms": timing.password_only_p50_ms,
        "first_step_p50_ms": timing.first_step_p50_ms,
        "second_step_p50_ms": timing.second_step_p50_ms,
        "first_step_cpu_p50_ms": timing.first_step_cpu_p50_ms,
        "second_step_cpu_p50_ms": timing.second_step_cpu_p50_ms,
        "second_step_thread_runs_p50": timing.second_step_thread_runs_p50,
        "second_step_pct_of_first": pct(timing.second_step_p50_ms, timing.first_step_p50_ms),
        "second_step_cpu_pct_of_first": pct(timing.second_step_cpu_p50_ms, timing.first_step_cpu_p50_ms),
    })
}

/// Rate and latency of one measured run.
fn summary(report: &load::Report) -> serde_json::Value {
    serde_json::json!({
        "requests": report.requests,
        "rps": (report.requests as f64 / report.elapsed.as_secs_f64()).round(),
        "p50_ms": report.percentile_ms(50.0),
        "p95_ms": report.percentile_ms(95.0),
        "p99_ms": report.percentile_ms(99.0),
        "errors": report.errors,
    })
}

fn ratio(a: f64, b: f64) -> f64 {
    (a / b * 100.0).round() / 100.0
}

/// The project scenarios: each route measured right after `/health` on the same server,
/// so the ratio between them is what the machine's noise leaves comparable.
async fn org_scenario(args: &Args, scenario: Scenario) -> anyhow::Result<serde_json::Value> {
    let server = Server::start(&args.server, scenario.backend()).await?;
    let (addr, connections) = (server.addr, args.connections);
    let fixture = org_load::fixture(addr, 200).await?;
    let limits = args.limits();
    let measure = |flows| load::run(addr, flows, limits);
    if matches!(
        scenario,
        Scenario::ProjectScaleSqlite | Scenario::ProjectScalePostgres
    ) {
        let get_1 = measure(org_load::get_flows(&fixture, connections)).await?;
        let list_1 = measure(org_load::list_flows(&fixture, connections)).await?;
        let seeding = std::time::Instant::now();
        let (orgs, projects) = org_load::seed_scale(&server.database_url(), &fixture.user).await?;
        let seed_s = seeding.elapsed().as_secs_f64().round();
        let get_n = measure(org_load::get_flows(&fixture, connections)).await?;
        let list_n = measure(org_load::list_flows(&fixture, connections)).await?;
        return Ok(serde_json::json!({
            "connections": connections,
            "orgs": orgs,
            "projects": projects,
            "seed_s": seed_s,
            "get_1_org": summary(&get_1),
            "get_scaled": summary(&get_n),
            "get_p99_ratio": ratio(get_n.percentile_ms(99.0), get_1.percentile_ms(99.0)),
            "list_1_org": summary(&list_1),
            "list_scaled": summary(&list_n),
            "list_p99_ratio": ratio(list_n.percentile_ms(99.0), list_1.percentile_ms(99.0)),
        }));
    }
    let health = load::Get {
        path: "/health",
        headers: Vec::new(),
    };
    let health = measure(
        (0..connections)
            .map(|_| Box::new(health.clone()) as Box<dyn load::Flow>)
            .collect(),
    )
    .await?;
    let flows = match scenario {
        Scenario::ProjectGetSqlite | Scenario::ProjectGetPostgres => {
            org_load::get_flows(&fixture, connections)
        }
        Scenario::ProjectListSqlite | Scenario::ProjectListPostgres => {
            org_load::list_flows(&fixture, connections)
        }
        Scenario::ProjectCreateSpreadSqlite | Scenario::ProjectCreateSpreadPostgres => {
            let orgs = org_load::more_orgs(addr, &fixture, 16).await?;
            org_load::create_flows(&fixture, &orgs, connections)
        }
        _ => org_load::create_flows(&fixture, std::slice::from_ref(&fixture.org), connections),
    };
    let writes = matches!(
        scenario,
        Scenario::ProjectCreateSqlite
            | Scenario::ProjectCreatePostgres
            | Scenario::ProjectCreateSpreadSqlite
            | Scenario::ProjectCreateSpreadPostgres
    );
    let watch = writes.then(|| seal_watch::start(addr));
    let report = measure(flows).await?;
    let mut line = summary(&report);
    if args.cut_off {
        line["after_cut_off"] = org_load::after_cut_off(addr, &fixture).await;
    }
    if let Some(watch) = watch {
        line["audit_seal"] = watch.finish().await?;
    }
    let health_rps = health.requests as f64 / health.elapsed.as_secs_f64();
    line["connections"] = connections.into();
    line["health_rps"] = health_rps.round().into();
    line["ratio_to_health"] = ratio(line["rps"].as_f64().unwrap_or(0.0), health_rps).into();
    Ok(line)
}

/// Whether a sign-in flood reaches other routes: project-get measured alone, then with
/// as many connections flooding `/v1/auth/login` from addresses of their own.
async fn login_flood_scenario(args: &Args) -> anyhow::Result<serde_json::Value> {
    let server = Server::start(&args.server, Backend::Sqlite).await?;
    let (addr, connections) = (server.addr, args.connections);
    let fixture = org_load::fixture(addr, 200).await?;
    let limits = args.limits();
    let alone = load::run(addr, org_load::get_flows(&fixture, connections), limits).await?;
    let outcomes = std::sync::Arc::new(auth_load::FloodOutcomes::default());
    let flood = auth_load::login_flood(addr, connections, &outcomes).await?;
    let flooding = tokio::spawn(load::run(addr, flood, limits));
    let during = load::run(addr, org_load::get_flows(&fixture, connections), limits).await?;
    let flood = flooding.await??;
    let count = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
    Ok(serde_json::json!({
        "connections": connections,
        "get_alone": summary(&alone),
        "get_during_flood": summary(&during),
        "get_p99_ratio": ratio(during.percentile_ms(99.0), alone.percentile_ms(99.0)),
        "flood": summary(&flood),
        "flood_signed_in": count(&outcomes.signed_in),
        "flood_shed_503": count(&outcomes.shed),
        "flood_throttled_429": count(&outcomes.throttled),
        "flood_other": count(&outcomes.other),
    }))
}

/// The file scenarios on the local store: throughput beside `dd` moving the same bytes
/// in the same blocks on the same disk, or RSS during one 1 GiB upload.
async fn file_scenario(args: &Args, scenario: Scenario) -> anyhow::Result<serde_json::Value> {
    use file_load::{MIB, RANGE_BYTES};
    let server = Server::start(&args.server, Backend::Sqlite).await?;
    let addr = server.addr;
    // Each request moves up to a MiB: a few connections keep the server busy.
    let connections = args.connections.min(16);
    let fixture = std::sync::Arc::new(org_load::fixture(addr, 0).await?);
    let mib = |bytes: u64| (bytes as f64 / MIB as f64 * 10.0).round() / 10.0;
    if scenario == Scenario::FileUpload1gibRss {
        let idle = server.rss_bytes();
        let sampler = server.sample_peak_rss(Duration::from_millis(20));
        let took = file_load::stream_upload(addr, &fixture, 1024 * MIB).await?;
        let peak = sampler.stop();
        return Ok(serde_json::json!({
            "upload_mib": 1024,
            "seconds": (took.as_secs_f64() * 100.0).round() / 100.0,
            "mib_per_s": (1024.0 / took.as_secs_f64()).round(),
            "server_idle_rss_mib": mib(idle),
            "server_peak_rss_mib": mib(peak),
            "peak_above_idle_mib": mib(peak.saturating_sub(idle)),
        }));
    }
    let (flows, bytes) = match scenario {
        Scenario::FileUpload1mib => (file_load::upload_flows(fixture.clone(), connections), MIB),
        Scenario::FileDownload1mib => (
            file_load::download_flows(addr, &fixture, connections, false).await?,
            MIB,
        ),
        _ => (
            file_load::download_flows(addr, &fixture, connections, true).await?,
            RANGE_BYTES,
        ),
    };
    let limits = args.limits();
    let report = load::run(addr, flows, limits).await?;
    let throughput = file_load::mib_per_s(&report, bytes);
    let ceiling = file_load::dd_ceiling(server.data_dir(), 256 * MIB, bytes, false)?;
    let mut line = summary(&report);
    line["connections"] = connections.into();
    line["mib_per_s"] = throughput.into();
    line["dd_mib_per_s"] = ceiling.round().into();
    line["ratio_to_dd"] = ratio(throughput, ceiling).into();
    if scenario == Scenario::FileUpload1mib {
        // Every upload is synced before it is acknowledged; this dd is too, at its end.
        let durable = file_load::dd_ceiling(server.data_dir(), 256 * MIB, bytes, true)?;
        line["dd_fsync_mib_per_s"] = durable.round().into();
        line["ratio_to_dd_fsync"] = ratio(throughput, durable).into();
    }
    Ok(line)
}

async fn http_scenario(args: &Args, scenario: Scenario) -> anyhow::Result<serde_json::Value> {
    let server = Server::start(&args.server, scenario.backend()).await?;
    let (addr, connections) = (server.addr, args.connections);
    let flows: Vec<Box<dyn load::Flow>> = match scenario {
        Scenario::Health | Scenario::ReadySqlite | Scenario::ReadyPostgres => {
            let path = if scenario == Scenario::Health {
                "/health"
            } else {
                "/ready"
            };
            let get = load::Get {
                path,
                headers: Vec::new(),
            };
            (0..connections)
                .map(|_| Box::new(get.clone()) as Box<dyn load::Flow>)
                .collect()
        }
        Scenario::LoginSqlite => auth_load::logins(addr, connections).await?,
        Scenario::GuestSqlite | Scenario::GuestPostgres => auth_load::guests(connections),
        Scenario::RefreshSqlite | Scenario::RefreshPostgres => {
            auth_load::refreshes(addr, connections).await?
        }
        Scenario::MeSqlite | Scenario::MePostgres => {
            auth_load::authenticated_get(addr, "/v1/auth/me", connections).await?
        }
        _ => auth_load::authenticated_get(addr, "/v1/auth/verify", connections).await?,
    };
    let idle_rss = server.rss_bytes();
    let sampler = server.sample_peak_rss(Duration::from_millis(20));
    let limits = args.limits();
    let report = load::run(addr, flows, limits).await?;
    let peak_rss = sampler.stop();
    let mib = |bytes: u64| (bytes as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0;
    let mut line = serde_json::json!({
        "connections": connections,
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
    });
    if scenario == Scenario::LoginSqlite {
        // Sign-ins are argon2-bound: compare with what argon2 alone does here.
        drop(server);
        let hashes = auth_load::argon2_rate(Duration::from_secs(args.duration.min(10))).await?;
        line["argon2_hashes_per_s"] = ((hashes * 10.0).round() / 10.0).into();
        line["ratio_to_argon2"] =
            ((line["rps"].as_f64().unwrap_or(0.0) / hashes * 100.0).round() / 100.0).into();
    }
    Ok(line)
}
