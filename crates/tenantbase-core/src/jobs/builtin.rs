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

/// Succeeded jobs one statement of `jobs.cleanup` deletes.
const CLEANUP_BATCH: u32 = 1_000;
/// Statements one run makes at most (100,000 jobs); the next hourly run goes on.
const CLEANUP_MAX_BATCHES: u32 = 100;

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
        // In bounded units, each a short hold of SQLite's one writer (whose savepoint
        // journal stays in memory for the unit's length, ADR 0009): a backlog of a
        // million jobs is not one statement.
        let mut deleted = 0;
        for _ in 0..CLEANUP_MAX_BATCHES {
            let batch = self
                .store
                .delete_finished_jobs(before, CLEANUP_BATCH)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
            deleted += batch;
            if batch < u64::from(CLEANUP_BATCH) {
                break;
            }
        }
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
