//! Job kinds every deployment has.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use tenantbase_store::Store;

use super::{JobContext, JobError, JobHandler};

/// `system.probe`: does nothing (or sleeps up to a minute). Measures the queue itself in
/// benchmarks and fault tests, and checks end to end that workers are running.
pub struct Probe;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbePayload {
    #[serde(default)]
    sleep_ms: u64,
}

impl Probe {
    pub const KIND: &'static str = "system.probe";
    const MAX_SLEEP: Duration = Duration::from_secs(60);
}

#[async_trait]
impl JobHandler for Probe {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        let payload: ProbePayload = job.payload()?;
        let sleep = Duration::from_millis(payload.sleep_ms).min(Self::MAX_SLEEP);
        if !sleep.is_zero() {
            tokio::time::sleep(sleep).await;
        }
        Ok(())
    }
}

/// `jobs.cleanup`: deletes succeeded jobs older than `keep`, so the table holds what is
/// pending, failed, or recent.
pub struct CleanupJobs {
    pub store: Arc<dyn Store>,
    pub keep: Duration,
}

impl CleanupJobs {
    pub const KIND: &'static str = "jobs.cleanup";
}

#[async_trait]
impl JobHandler for CleanupJobs {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        let keep = chrono::Duration::from_std(self.keep).unwrap_or(chrono::Duration::MAX);
        let deleted = self
            .store
            .delete_finished_jobs(Utc::now() - keep)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        tracing::info!(deleted, "cleaned up finished jobs");
        Ok(())
    }
}
