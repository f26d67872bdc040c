//! The durable job queue: jobs are rows, enqueued inside the caller's transaction (an
//! outbox), claimed by workers with a lease (the visibility timeout), and either finished,
//! rescheduled with backoff, or dead-lettered with the reason.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::JobId;

use crate::StoreResult;

/// Largest accepted payload, as JSON text: jobs carry references and small values.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// Waiting for `run_at`.
    Queued,
    /// Claimed by a worker whose lease has not run out.
    Running,
    Succeeded,
    /// Out of attempts or failed for good; kept with its last error until retried.
    Dead,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Dead => "dead",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for JobState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "queued" => Ok(JobState::Queued),
            "running" => Ok(JobState::Running),
            "succeeded" => Ok(JobState::Succeeded),
            "dead" => Ok(JobState::Dead),
            other => Err(format!(
                "unknown job state `{other}` (queued, running, succeeded, dead)"
            )),
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub kind: String,
    pub payload: serde_json::Value,
    /// Not before this time; now when `None`.
    pub run_at: Option<DateTime<Utc>>,
    pub max_attempts: u32,
    /// At most one job ever holds a given key: enqueueing it again is a no-op.
    pub unique_key: Option<String>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> Self {
        Self {
            kind: kind.into(),
            payload,
            run_at: None,
            max_attempts: 10,
            unique_key: None,
        }
    }

    pub fn unique(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    pub fn at(mut self, run_at: DateTime<Utc>) -> Self {
        self.run_at = Some(run_at);
        self
    }

    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }
}

/// What `enqueue` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    Created(JobId),
    /// A job with the same unique key exists; nothing was added.
    Duplicate(JobId),
}

impl Enqueued {
    pub fn id(self) -> JobId {
        match self {
            Enqueued::Created(id) | Enqueued::Duplicate(id) => id,
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub unique_key: Option<String>,
    pub last_error: Option<String>,
    pub locked_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// A job handed to a worker; `attempts` counts this run.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
}

/// Jobs per kind and state, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub kind: String,
    pub state: JobState,
    pub count: i64,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Claims up to `limit` due jobs (queued and due, or running with an expired lease)
    /// for `worker`, leasing them until `now + lease`.
    async fn claim_jobs(
        &self,
        worker: &str,
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>>;

    /// Marks jobs done in one statement and empties their payloads (`{}`): a delivered
    /// job's payload has served, and it may carry personal data. Returns how many
    /// `worker` still held (a job whose lease ran out and that another worker took is left
    /// alone).
    async fn complete_jobs(
        &self,
        ids: &[JobId],
        worker: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Records a failed run: back to the queue at `retry_at`, or dead when `None`.
    async fn fail_job(
        &self,
        id: JobId,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Newest first, optionally of one state.
    async fn list_jobs(&self, state: Option<JobState>, limit: u32) -> StoreResult<Vec<Job>>;

    async fn get_job(&self, id: JobId) -> StoreResult<Job>;

    async fn queue_depth(&self) -> StoreResult<Vec<QueueDepth>>;

    /// Deletes succeeded jobs finished before `before`; returns how many.
    async fn delete_finished_jobs(&self, before: DateTime<Utc>) -> StoreResult<u64>;
}
