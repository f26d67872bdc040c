//! The worker and the scheduler against real stores.

mod fixture;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use fixture::{BOTH, Backend, Fixture, stop_worker, wait_for_job};
use serde_json::json;
use tenantbase_core::jobs::builtin::{CleanupJobs, Probe};
use tenantbase_core::jobs::{
    Backoff, JobContext, JobError, JobHandler, Registry, Schedule, Scheduler, Worker, WorkerConfig,
};
use tenantbase_domain::model::{Job, JobState};
use tenantbase_store::Store;
use tenantbase_store::platform::jobs::NewJob;
use tokio_util::sync::CancellationToken;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};

/// Fails with a retryable error until its `n`-th run.
struct SucceedsOnRun {
    n: u32,
    runs: Arc<AtomicU32>,
}

#[async_trait]
impl JobHandler for SucceedsOnRun {
    fn kind(&self) -> &'static str {
        "test.flaky"
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        let run = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        if run < self.n {
            Err(JobError::Retry(format!("transient failure {run}")))
        } else {
            Ok(())
        }
    }
}

struct Panics;

#[async_trait]
impl JobHandler for Panics {
    fn kind(&self) -> &'static str {
        "test.panics"
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        panic!("handler bug")
    }
}

fn fast_config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 4,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(30),
        backoff: Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
    }
}

async fn enqueue(store: &dyn Store, job: NewJob) -> tenantbase_domain::JobId {
    let mut unit = store.begin().await.expect("begin");
    let id = unit.enqueue_job(job).await.expect("enqueue").id();
    unit.commit().await.expect("commit");
    id
}

/// Waits (up to 30 s) until `done` holds for the job.
async fn wait_for(
    store: &dyn Store,
    id: tenantbase_domain::JobId,
    done: impl Fn(&Job) -> bool,
) -> Job {
    wait_for_job(store, id, Duration::from_secs(30), done).await
}

/// Counts the worker's "claiming jobs failed" warnings: proof that it met an outage. The
/// test runtime has one thread, so a subscriber set as its default sees the worker's events.
#[derive(Clone, Default)]
struct FailedClaims(Arc<AtomicU32>);

impl FailedClaims {
    const MESSAGE: &str = "claiming jobs failed";

    fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

impl<S: tracing::Subscriber> Layer<S> for FailedClaims {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut message = MessageIs(Self::MESSAGE, false);
        event.record(&mut message);
        if message.1 {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Whether an event's `message` field is the given text.
struct MessageIs(&'static str, bool);

impl Visit for MessageIs {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.1 = format!("{value:?}") == self.0;
        }
    }
}

fn start(
    store: Arc<dyn Store>,
    registry: Registry,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let shutdown = CancellationToken::new();
    let worker = Worker::new(store, registry, fast_config());
    let handle = tokio::spawn(worker.run(shutdown.clone()));
    (shutdown, handle)
}

#[tokio::test]
async fn retries_with_backoff_then_succeeds_or_dead_letters() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let runs = Arc::new(AtomicU32::new(0));
        let registry = Registry::new()
            .register(SucceedsOnRun {
                n: 3,
                runs: runs.clone(),
            })
            .register(Panics)
            .register(Probe);
        let (shutdown, worker) = start(f.store.clone(), registry);

        let flaky = enqueue(
            f.store.as_ref(),
            NewJob::new("test.flaky", json!({})).max_attempts(5),
        )
        .await;
        let job = wait_for(f.store.as_ref(), flaky, |j| j.state == JobState::Succeeded).await;
        assert_eq!(job.attempts, 3, "{backend:?}");
        assert_eq!(runs.load(Ordering::SeqCst), 3);

        let bad_payload = enqueue(
            f.store.as_ref(),
            NewJob::new(Probe::KIND, json!({"sleep_ms": "soon"})),
        )
        .await;
        let job = wait_for(f.store.as_ref(), bad_payload, |j| j.state == JobState::Dead).await;
        assert!(
            job.last_error
                .as_deref()
                .expect("reason")
                .contains("invalid payload"),
            "{job:?}"
        );

        let panics = enqueue(
            f.store.as_ref(),
            NewJob::new("test.panics", json!({})).max_attempts(2),
        )
        .await;
        let job = wait_for(f.store.as_ref(), panics, |j| j.state == JobState::Dead).await;
        assert_eq!(job.attempts, 2);
        assert!(
            job.last_error
                .as_deref()
                .expect("reason")
                .contains("gave up after 2 attempts")
        );

        // The worker survived all of that.
        let probe = enqueue(f.store.as_ref(), NewJob::new(Probe::KIND, json!({}))).await;
        wait_for(f.store.as_ref(), probe, |j| j.state == JobState::Succeeded).await;
        stop_worker(shutdown, worker).await;
    }
}

/// One run of `jobs.cleanup` takes away a backlog larger than one of its statements
/// deletes (1,000 jobs), and leaves what has not succeeded.
#[tokio::test]
async fn the_cleanup_removes_a_backlog_in_several_statements() {
    const BACKLOG: usize = 2_100;
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        let mut unit = f.store.begin().await.expect("begin");
        for _ in 0..BACKLOG {
            unit.enqueue_job(NewJob::new("test.done", json!({})))
                .await
                .expect("enqueue");
        }
        unit.commit().await.expect("commit");
        let now = Utc::now();
        let claimed = f
            .store
            .claim_jobs("w", &["test.done"], now, Duration::from_secs(30), 5_000)
            .await
            .expect("claim");
        let claims: Vec<_> = claimed.iter().map(|job| job.claim()).collect();
        let done = f
            .store
            .complete_jobs(&claims, "w", now)
            .await
            .expect("done");
        assert_eq!(done, BACKLOG as u64, "{backend:?}");
        let waiting = enqueue(f.store.as_ref(), NewJob::new("test.later", json!({}))).await;

        let registry = Registry::new().register(CleanupJobs {
            store: f.store.clone(),
            keep: Duration::ZERO,
        });
        let (shutdown, worker) = start(f.store.clone(), registry);
        let cleanup = enqueue(f.store.as_ref(), NewJob::new(CleanupJobs::KIND, json!({}))).await;
        wait_for(f.store.as_ref(), cleanup, |j| {
            j.state == JobState::Succeeded
        })
        .await;
        stop_worker(shutdown, worker).await;

        let succeeded = f
            .store
            .list_jobs(Some(JobState::Succeeded), 10)
            .await
            .expect("list");
        assert_eq!(
            succeeded.iter().map(|job| job.id).collect::<Vec<_>>(),
            vec![cleanup],
            "{backend:?}: only the cleanup itself, finished after it ran"
        );
        let waiting = f.store.get_job(waiting).await.expect("a queued job stays");
        assert_eq!(waiting.state, JobState::Queued, "{backend:?}");
    }
}

#[tokio::test]
async fn a_kind_the_worker_cannot_run_waits_for_one_that_can() {
    for backend in BOTH {
        let f = Fixture::new(backend).await;
        // As in a rolling deploy: an older build knows only the probe.
        let (shutdown, old_build) = start(f.store.clone(), Registry::new().register(Probe));
        let newer = enqueue(f.store.as_ref(), NewJob::new("test.flaky", json!({}))).await;
        let probe = enqueue(f.store.as_ref(), NewJob::new(Probe::KIND, json!({}))).await;
        wait_for(f.store.as_ref(), probe, |j| j.state == JobState::Succeeded).await;
        let job = f.store.get_job(newer).await.expect("get");
        assert_eq!(
            (job.state, job.attempts),
            (JobState::Queued, 0),
            "{backend:?}"
        );
        stop_worker(shutdown, old_build).await;

        let runs = Arc::new(AtomicU32::new(0));
        let registry = Registry::new().register(SucceedsOnRun {
            n: 1,
            runs: runs.clone(),
        });
        let (shutdown, new_build) = start(f.store.clone(), registry);
        let job = wait_for(f.store.as_ref(), newer, |j| j.state == JobState::Succeeded).await;
        assert_eq!(job.attempts, 1, "{backend:?}");
        stop_worker(shutdown, new_build).await;
    }
}

#[tokio::test]
async fn shutdown_lets_running_jobs_finish() {
    let f = Fixture::new(Backend::Sqlite).await;
    let (shutdown, worker) = start(f.store.clone(), Registry::new().register(Probe));
    let id = enqueue(
        f.store.as_ref(),
        NewJob::new(Probe::KIND, json!({"sleep_ms": 300})),
    )
    .await;
    wait_for(f.store.as_ref(), id, |j| j.state == JobState::Running).await;
    stop_worker(shutdown, worker).await;
    assert_eq!(
        f.store.get_job(id).await.expect("get").state,
        JobState::Succeeded
    );
}

#[tokio::test]
async fn each_tick_is_enqueued_once_across_replicas() {
    let f = Fixture::new(Backend::Postgres).await;
    let every_second = || {
        Schedule::new("test.tick", "* * * * * *", || {
            NewJob::new(Probe::KIND, json!({}))
        })
        .expect("cron")
    };
    let replicas: Vec<Scheduler> = (0..3)
        .map(|_| Scheduler::new(f.store.clone(), vec![every_second()]))
        .collect();
    let since = Utc::now();
    let until = since + chrono::Duration::seconds(5);
    let runs =
        futures::future::join_all(replicas.iter().map(|s| s.enqueue_ticks(since, until))).await;
    let created: usize = runs
        .into_iter()
        .map(|r| {
            r.expect("enqueue")
                .into_iter()
                .filter(|e| matches!(e, tenantbase_domain::model::Enqueued::Created(_)))
                .count()
        })
        .sum();
    let jobs = f.store.list_jobs(None, 100).await.expect("list");
    assert_eq!(jobs.len(), 5, "one job per tick");
    assert_eq!(created, 5, "each tick created by exactly one replica");
    assert!(jobs.iter().all(|j| {
        j.unique_key
            .as_deref()
            .is_some_and(|k| k.starts_with("cron:test.tick:"))
    }));
}

#[tokio::test]
async fn bad_cron_expressions_are_refused() {
    let error = Schedule::new("x", "every tuesday", || NewJob::new("x", json!({})))
        .err()
        .expect("refused");
    assert!(error.contains("every tuesday"));
}

#[tokio::test]
async fn workers_wait_out_a_database_outage_and_lose_nothing() {
    let cluster = tokio::task::spawn_blocking(tenantbase_testkit::PgCluster::start)
        .await
        .expect("no panic")
        .expect("a throwaway cluster (needs initdb and pg_ctl)");
    let store: Arc<dyn Store> = Arc::new(
        tenantbase_store_postgres::PgStore::connect(
            &cluster.url(),
            tenantbase_store_postgres::PgPoolConfig {
                max_connections: 4,
                acquire_timeout: Duration::from_secs(2),
            },
        )
        .expect("pool"),
    );
    store.migrate().await.expect("migrate");
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(
            enqueue(
                store.as_ref(),
                NewJob::new(Probe::KIND, json!({"sleep_ms": 10})),
            )
            .await,
        );
    }
    cluster.stop_service().expect("stop");
    let failed_claims = FailedClaims::default();
    let _listening = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(failed_claims.clone()),
    );
    let (shutdown, worker) = start(store.clone(), Registry::new().register(Probe));
    // Resume once the worker has met the outage and its pool has let go of every
    // connection the stop broke (each fails its next statement once): one left over could
    // fail the recording of a finished job, which would then run twice.
    let deadline = Instant::now() + Duration::from_secs(30);
    while failed_claims.count() == 0 || store.pool_stats().size > 0 {
        assert!(
            Instant::now() < deadline,
            "the worker never met the outage: {} failed claims, {:?}",
            failed_claims.count(),
            store.pool_stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.resume_service().expect("start again");
    for id in ids {
        let job = wait_for(store.as_ref(), id, |j| j.state == JobState::Succeeded).await;
        assert_eq!(job.attempts, 1);
    }
    stop_worker(shutdown, worker).await;
}
