//! The worker: claims due jobs up to its concurrency, runs each under its lease, and
//! settles it — done, retried after a backoff, or dead-lettered with the reason. A claim
//! is a lease, so a job held by a worker that crashed runs again once the lease is over.
//! Successes are recorded in batches: whatever finished while the last batch was being
//! written goes in the next one statement, so a busy queue pays one write per batch.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tenantbase_domain::model::{ClaimedJob, JobClaim};
use tenantbase_store::{Store, StoreResult};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{Backoff, JobContext, JobError, Registry};

#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// Pause between polls while the queue is empty.
    pub poll_interval: Duration,
    /// How long a claimed job stays invisible to other workers. A run is cut off before
    /// its lease ends, so no other worker can take a job that is still running.
    pub lease: Duration,
    pub backoff: Backoff,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 4,
            poll_interval: Duration::from_millis(250),
            lease: Duration::from_secs(300),
            backoff: Backoff::default(),
        }
    }
}

/// A pool of job runners over one store.
pub struct Worker {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    /// The registry's kinds, the only ones this worker claims: a job of a kind it cannot
    /// run stays queued for a worker that can (a rolling deploy, a narrower build).
    kinds: Vec<&'static str>,
    config: WorkerConfig,
    id: Arc<str>,
}

impl Worker {
    pub fn new(store: Arc<dyn Store>, registry: Registry, config: WorkerConfig) -> Self {
        let id = format!(
            "{}-{}-{}",
            hostname(),
            std::process::id(),
            &tenantbase_domain::JobId::new().to_string()[28..]
        );
        let mut kinds: Vec<_> = registry.kinds().collect();
        // One statement text per set of kinds, whatever the map's order.
        kinds.sort_unstable();
        Self {
            store,
            kinds,
            registry: Arc::new(registry),
            config,
            id: id.into(),
        }
    }

    /// Recorded as `locked_by` on every job this worker claims.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `shutdown`, then lets running jobs finish (each within its lease).
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(worker = %self.id, concurrency = self.config.concurrency, "job worker started");
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let (succeeded, finished) = mpsc::channel(COMPLETION_BATCH);
        let completer = tokio::spawn(complete_in_batches(
            self.store.clone(),
            self.id.clone(),
            finished,
        ));
        let mut running = JoinSet::new();
        let mut failures_in_a_row = 0u32;
        while !shutdown.is_cancelled() {
            while running.try_join_next().is_some() {}
            let free = slots.available_permits();
            if free == 0 {
                tokio::select! {
                    _ = running.join_next() => {}
                    () = shutdown.cancelled() => break,
                }
                continue;
            }
            let claimed = self
                .store
                .claim_jobs(
                    &self.id,
                    &self.kinds,
                    Utc::now(),
                    self.config.lease,
                    u32::try_from(free).unwrap_or(u32::MAX),
                )
                .await;
            let pause = match claimed {
                Ok(jobs) if !jobs.is_empty() => {
                    failures_in_a_row = 0;
                    for job in jobs {
                        let Ok(slot) = slots.clone().acquire_owned().await else {
                            break;
                        };
                        let run = Run {
                            store: self.store.clone(),
                            registry: self.registry.clone(),
                            config: self.config,
                            worker: self.id.clone(),
                            succeeded: succeeded.clone(),
                        };
                        running.spawn(async move {
                            run.execute(job).await;
                            drop(slot);
                        });
                    }
                    continue;
                }
                Ok(_) => {
                    failures_in_a_row = 0;
                    self.config.poll_interval
                }
                Err(error) => {
                    // The database is down or overloaded: back off, keep what runs, resume.
                    failures_in_a_row = failures_in_a_row.saturating_add(1);
                    tracing::warn!(worker = %self.id, %error, "claiming jobs failed");
                    Duration::from_millis(100 * 2u64.pow(failures_in_a_row.min(6)))
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.cancelled() => break,
            }
        }
        while running.join_next().await.is_some() {}
        drop(succeeded);
        let _ = completer.await;
        tracing::info!(worker = %self.id, "job worker stopped");
    }
}

/// Everything one job run needs, owned, so it can live in its own task.
struct Run {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    config: WorkerConfig,
    worker: Arc<str>,
    /// Where successes go to be recorded in a batch.
    succeeded: mpsc::Sender<JobClaim>,
}

/// Most successes recorded in one statement.
const COMPLETION_BATCH: usize = 256;

impl Run {
    async fn execute(self, job: ClaimedJob) {
        // One span per run (a retry is a new run); its children are the handler's units
        // of work and sends. Kind and id only: payloads stay out of traces.
        let span = tracing::info_span!(
            "job",
            otel.name = %format_args!("job {}", job.kind),
            job.kind = %job.kind,
            job.id = %job.id,
            job.attempt = job.attempts,
        );
        async move {
            let lag = (Utc::now() - job.run_at).to_std().unwrap_or_default();
            metrics::histogram!("job_queue_lag_seconds").record(lag.as_secs_f64());
            let started = Instant::now();
            let outcome = self.run_handler(&job).await;
            metrics::histogram!("job_run_duration_seconds", "kind" => job.kind.clone())
                .record(started.elapsed().as_secs_f64());
            self.settle(&job, outcome).await;
        }
        .instrument(span)
        .await
    }

    async fn run_handler(&self, job: &ClaimedJob) -> Result<(), JobError> {
        // Claims take only the registry's kinds, so this is a store that disobeyed.
        let Some(handler) = self.registry.get(&job.kind) else {
            return Err(JobError::Fail(format!("unknown job kind `{}`", job.kind)));
        };
        let context = JobContext {
            id: job.id,
            kind: job.kind.clone(),
            payload: job.payload.clone(),
            attempt: job.attempts,
        };
        // Its own task, so a panicking handler fails its job instead of the worker.
        let mut task = tokio::spawn(async move { handler.run(&context).await }.in_current_span());
        let limit = self.config.lease.mul_f64(0.9);
        match tokio::time::timeout(limit, &mut task).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(JobError::Retry("the handler panicked".to_owned())),
            Err(_) => {
                task.abort();
                Err(JobError::Retry(format!(
                    "timed out after {} s",
                    limit.as_secs()
                )))
            }
        }
    }

    /// Records the outcome: successes through the batch completer, failures here.
    async fn settle(&self, job: &ClaimedJob, outcome: Result<(), JobError>) {
        let retry = matches!(outcome, Err(JobError::Retry(_))) && job.attempts < job.max_attempts;
        let label = match &outcome {
            Ok(()) => "succeeded",
            Err(_) if retry => "retried",
            Err(_) => "dead",
        };
        metrics::counter!("jobs_finished_total", "kind" => job.kind.clone(), "outcome" => label)
            .increment(1);
        let reason = match outcome {
            Ok(()) => {
                if self.succeeded.send(job.claim()).await.is_err() {
                    let claims = [job.claim()];
                    persist(|| self.store.complete_jobs(&claims, &self.worker, Utc::now())).await;
                }
                return;
            }
            Err(JobError::Retry(reason)) if retry => reason,
            Err(JobError::Retry(reason)) => {
                format!("{reason} (gave up after {} attempts)", job.attempts)
            }
            Err(JobError::Fail(reason)) => reason,
        };
        let retry_at = retry.then(|| {
            let delay = self.config.backoff.delay(job.attempts);
            Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default()
        });
        if retry {
            tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, error = %reason, "job failed; will retry");
        } else {
            tracing::warn!(job = %job.id, kind = %job.kind, error = %reason, "job dead-lettered");
        }
        let recorded = persist(|| {
            self.store
                .fail_job(job.claim(), &self.worker, &reason, retry_at, Utc::now())
        })
        .await;
        if recorded == Some(false) {
            tracing::warn!(job = %job.id, "job lease ran out before its outcome was recorded; a newer claim owns it");
        }
    }
}

/// Records successes as they come, many per statement.
async fn complete_in_batches(
    store: Arc<dyn Store>,
    worker: Arc<str>,
    mut finished: mpsc::Receiver<JobClaim>,
) {
    let mut batch = Vec::with_capacity(COMPLETION_BATCH);
    while finished.recv_many(&mut batch, COMPLETION_BATCH).await > 0 {
        let recorded = persist(|| store.complete_jobs(&batch, &worker, Utc::now())).await;
        if let Some(recorded) = recorded.filter(|n| *n < batch.len() as u64) {
            tracing::warn!(
                lost = batch.len() as u64 - recorded,
                "some job leases ran out before completion"
            );
        }
        batch.clear();
    }
}

/// Runs a store write, retrying while the database is unreachable. If it never gets
/// through (`None`), the job's lease runs out and it runs again: at least once.
async fn persist<T, F, Fut>(write: F) -> Option<T>
where
    F: Fn() -> Fut,
    Fut: Future<Output = StoreResult<T>>,
{
    for attempt in 0..5u32 {
        match write().await {
            Ok(value) => return Some(value),
            Err(error) => {
                tracing::warn!(%error, "recording a job outcome failed");
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
        }
    }
    // Once the lease ends, the next claim runs the job again, or dead-letters it as lost
    // if that was its last attempt: its outcome here is not known to anyone.
    tracing::error!("gave up recording a job outcome: it will run again or be dead-lettered");
    None
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "host".to_owned())
}
