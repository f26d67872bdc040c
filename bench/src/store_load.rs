//! In-process scenarios against the store and job worker of the release build: audit
//! appends per second (one chain, and spread over 100 orgs) with a sealer beside them, as
//! in `serve`, and no-op jobs per second end to end (enqueue → claim → run → complete),
//! on SQLite and PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde_json::json;
use tenantbase_core::audit::seal::Sealer;
use tenantbase_core::jobs::builtin::Probe;
use tenantbase_core::jobs::{Registry, Worker, WorkerConfig};
use tenantbase_domain::OrgId;
use tenantbase_domain::model::JobState;
use tenantbase_domain::model::{Actor, RequestMeta};
use tenantbase_store::Store;
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::platform::jobs::NewJob;
use tenantbase_store_postgres::{PgPoolConfig, PgStore};
use tenantbase_store_sqlite::{SqlitePoolConfig, SqliteStore};
use tenantbase_testkit::TestDatabase;
use tokio_util::sync::CancellationToken;

use crate::server::Backend;

/// Concurrent appenders, and job worker slots.
const CONCURRENCY: usize = 8;

/// A migrated store on a fresh database, and what must live as long as it.
pub struct Fresh {
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
    _database: Option<TestDatabase>,
}

pub async fn fresh(backend: Backend) -> anyhow::Result<Fresh> {
    let dir = tempfile::tempdir()?;
    let timeout = Duration::from_secs(30);
    let (store, database): (Arc<dyn Store>, _) = match backend {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            let pool = SqlitePoolConfig {
                max_readers: 4,
                acquire_timeout: timeout,
                synchronous: Default::default(),
            };
            (Arc::new(SqliteStore::connect(&url, pool).await?), None)
        }
        Backend::Postgres => {
            let database = tenantbase_testkit::fresh_database().await;
            let pool = PgPoolConfig {
                max_connections: CONCURRENCY as u32 + 2,
                acquire_timeout: timeout,
            };
            (
                Arc::new(PgStore::connect(&database.url, pool)?),
                Some(database),
            )
        }
    };
    store.migrate().await?;
    Ok(Fresh {
        store,
        _dir: dir,
        _database: database,
    })
}

/// Appends from `CONCURRENCY` tasks for `duration`, each event to one of `orgs` orgs,
/// with a sealer at the default interval beside them; after the appends, the time until
/// the sealer has sealed the rest.
pub async fn appends(
    backend: Backend,
    orgs: usize,
    duration: Duration,
    max: u64,
) -> anyhow::Result<serde_json::Value> {
    let fresh = fresh(backend).await?;
    let org_ids: Arc<Vec<OrgId>> = Arc::new((0..orgs).map(|_| OrgId::new()).collect());
    let sealer = Sealer::new(fresh.store.clone(), Duration::from_millis(100)).spawn();
    let started = Instant::now();
    let deadline = started + duration;
    let per_task = max / CONCURRENCY as u64;
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|task| {
            let (store, org_ids) = (fresh.store.clone(), org_ids.clone());
            tokio::spawn(async move {
                let mut latencies =
                    Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
                let mut n = 0u64;
                while Instant::now() < deadline && n < per_task {
                    let org = org_ids[(task + n as usize) % org_ids.len()];
                    let begun = Instant::now();
                    let mut unit = store.begin().await?;
                    unit.append_event(event(org, n)).await?;
                    unit.commit().await?;
                    let _ = latencies.record(begun.elapsed().as_micros().max(1) as u64);
                    n += 1;
                }
                anyhow::Ok((n, latencies))
            })
        })
        .collect();
    let mut total = 0;
    let mut latencies = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        let (n, histogram) = task.await??;
        total += n;
        latencies.add(&histogram)?;
    }
    let elapsed = started.elapsed();
    let draining = Instant::now();
    sealer.stop().await;
    let drain_ms = draining.elapsed().as_millis() as u64;
    anyhow::ensure!(
        fresh.store.unsealed_chains().await?.is_empty(),
        "events left unsealed"
    );
    let ms = |q: f64| (latencies.value_at_quantile(q) as f64 / 1000.0 * 1000.0).round() / 1000.0;
    Ok(json!({
        "orgs": orgs,
        "appenders": CONCURRENCY,
        "appends": total,
        "duration_s": elapsed.as_secs_f64(),
        "appends_per_s": (total as f64 / elapsed.as_secs_f64()).round(),
        "p50_ms": ms(0.5),
        "p99_ms": ms(0.99),
        "seal_drain_ms": drain_ms,
    }))
}

fn event(org: OrgId, n: u64) -> NewEvent {
    NewEvent {
        org_id: Some(org),
        event_type: "project.updated".to_owned(),
        actor: Actor::User("usr_bench".to_owned()),
        target: None,
        request: RequestMeta {
            ip: Some("127.0.0.1".to_owned()),
            user_agent: Some("bench".to_owned()),
            request_id: Some(format!("req_{n}")),
        },
        payload: json!({"n": n, "name": "bench project"}),
    }
}

/// Enqueues `jobs` no-op jobs, then times a worker with `CONCURRENCY` slots draining them.
pub async fn noop_jobs(
    backend: Backend,
    jobs: usize,
    limit: Duration,
) -> anyhow::Result<serde_json::Value> {
    let fresh = fresh(backend).await?;
    for batch in 0..jobs.div_ceil(1000) {
        let mut unit = fresh.store.begin().await?;
        for _ in 0..1000.min(jobs - batch * 1000) {
            unit.enqueue_job(NewJob::new(Probe::KIND, json!({})))
                .await?;
        }
        unit.commit().await?;
    }
    let config = WorkerConfig {
        concurrency: CONCURRENCY,
        poll_interval: Duration::from_millis(10),
        ..WorkerConfig::default()
    };
    let shutdown = CancellationToken::new();
    let started = Instant::now();
    let worker = tokio::spawn(
        Worker::new(fresh.store.clone(), Registry::new().register(Probe), config)
            .run(shutdown.clone()),
    );
    let mut left = jobs as i64;
    while left > 0 && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(50)).await;
        left = fresh
            .store
            .queue_depth()
            .await?
            .iter()
            .filter(|d| matches!(d.state, JobState::Queued | JobState::Running))
            .map(|d| d.count)
            .sum();
    }
    let elapsed = started.elapsed();
    shutdown.cancel();
    worker.await?;
    let done = jobs as i64 - left;
    Ok(json!({
        "jobs": jobs,
        "completed": done,
        "worker_slots": CONCURRENCY,
        "duration_s": elapsed.as_secs_f64(),
        "jobs_per_s": (done as f64 / elapsed.as_secs_f64()).round(),
    }))
}
