//! Job kinds every deployment has.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
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
        let Some(before) = kept_since(self.keep) else {
            return Ok(());
        };
        let deleted = self
            .store
            .delete_finished_jobs(before)
            .await
            .map_err(|e| JobError::Retry(e.to_string()))?;
        tracing::info!(deleted, "cleaned up finished jobs");
        Ok(())
    }
}

/// The start of a window of `keep` ending now: what ended before it may go. `None` when
/// the window reaches before the calendar's start (a huge setting), so nothing may yet.
pub(crate) fn kept_since(keep: Duration) -> Option<DateTime<Utc>> {
    chrono::Duration::from_std(keep)
        .ok()
        .and_then(|keep| Utc::now().checked_sub_signed(keep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_longer_than_the_calendar_keeps_everything() {
        let day = kept_since(Duration::from_secs(86_400)).expect("a day ago");
        assert!(day < Utc::now());
        assert_eq!(kept_since(Duration::from_secs(u64::MAX)), None);
        assert_eq!(
            kept_since(Duration::from_secs(400_000 * 365 * 86_400)),
            None
        );
    }
}
