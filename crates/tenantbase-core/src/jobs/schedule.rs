//! Cron schedules registered in code. Every replica runs a scheduler; each tick becomes
//! a job whose unique key names the schedule and the tick, so however many replicas see
//! a tick, the queue holds it once and it runs once.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tenantbase_domain::model::Enqueued;
use tenantbase_store::platform::jobs::NewJob;
use tenantbase_store::{Store, StoreResult};
use tokio_util::sync::CancellationToken;

/// A job to enqueue at every tick of a cron expression.
#[derive(Clone)]
pub struct Schedule {
    pub name: &'static str,
    cron: cron::Schedule,
    job: Arc<dyn Fn() -> NewJob + Send + Sync>,
}

impl Schedule {
    /// `expression` has six fields, seconds first: `0 0 * * * *` is hourly.
    pub fn new(
        name: &'static str,
        expression: &str,
        job: impl Fn() -> NewJob + Send + Sync + 'static,
    ) -> Result<Self, String> {
        let cron = cron::Schedule::from_str(expression)
            .map_err(|e| format!("schedule {name}: bad cron expression `{expression}`: {e}"))?;
        Ok(Self {
            name,
            cron,
            job: Arc::new(job),
        })
    }
}

pub struct Scheduler {
    store: Arc<dyn Store>,
    schedules: Vec<Schedule>,
}

impl Scheduler {
    pub fn new(store: Arc<dyn Store>, schedules: Vec<Schedule>) -> Self {
        Self { store, schedules }
    }

    /// Enqueues every tick in `(since, until]`, each under the key `cron:{name}:{tick}`.
    pub async fn enqueue_ticks(
        &self,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<Vec<Enqueued>> {
        let mut enqueued = Vec::new();
        for schedule in &self.schedules {
            for tick in schedule
                .cron
                .after(&since)
                .take_while(|tick| *tick <= until)
            {
                let job = (schedule.job)()
                    .unique(format!("cron:{}:{}", schedule.name, tick.timestamp()))
                    .at(tick);
                let mut unit = self.store.begin().await?;
                enqueued.push(unit.enqueue_job(job).await?);
                unit.commit().await?;
            }
        }
        Ok(enqueued)
    }

    /// Checks for ticks every second until `shutdown`. Ticks missed while no replica ran
    /// are not made up.
    pub async fn run(self, shutdown: CancellationToken) {
        let mut since = Utc::now();
        loop {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
                () = shutdown.cancelled() => return,
            }
            let until = Utc::now();
            match self.enqueue_ticks(since, until).await {
                Ok(_) => since = until,
                Err(error) => {
                    tracing::warn!(%error, "enqueueing scheduled jobs failed; will retry")
                }
            }
        }
    }
}
