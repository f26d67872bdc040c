//! The durable job queue: jobs are rows, enqueued inside the caller's transaction (an
//! outbox, `JobsUnit`), claimed by workers with a lease (the visibility timeout), and
//! either finished, rescheduled with backoff, or dead-lettered with the reason
//! (`JobStore`). The jobs themselves are `tenantbase_domain::model::job`.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::JobId;
use tenantbase_domain::model::{ClaimedJob, Enqueued, Job, JobClaim, JobState, QueueDepth};

use crate::{StoreError, StoreResult};

/// Largest accepted payload, as JSON text: jobs carry references and small values.
pub const MAX_PAYLOAD_BYTES: usize = 64 * 1024;

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

/// The queue's part of a unit of work.
#[async_trait]
pub trait JobsUnit: Send {
    async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued>;

    /// Puts a dead job back in the queue with fresh attempts; `NotFound` unless dead.
    async fn retry_job(&mut self, id: JobId, now: DateTime<Utc>) -> StoreResult<()>;
}

#[async_trait]
pub trait JobStore: Send + Sync {
    /// Claims up to `limit` due jobs (queued and due, or running with an expired lease)
    /// of `kinds`, the kinds `worker` can run, leasing them until `now + lease`. Other
    /// kinds stay queued for a worker that knows them (a rolling deploy mixes builds).
    /// Any expired lease on a last attempt is dead-lettered, whatever its kind.
    async fn claim_jobs(
        &self,
        worker: &str,
        kinds: &[&str],
        now: DateTime<Utc>,
        lease: Duration,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedJob>>;

    /// Marks jobs done in one statement and empties their payloads (`{}`): a delivered
    /// job's payload has served, and it may carry personal data. Returns how many of
    /// `worker`'s claims still stood: a job whose lease ran out and that was claimed again
    /// (by any worker) is left alone, but one dead-lettered as lost on that very claim (its
    /// last attempt: nobody ran it since) succeeds after all.
    async fn complete_jobs(
        &self,
        claims: &[JobClaim],
        worker: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;

    /// Records a failed run: back to the queue at `retry_at`, or dead when `None`. Like
    /// `complete_jobs`, only while `worker`'s claim stands; a final failure of a claim
    /// dead-lettered as lost replaces the lost-worker reason with its own, still dead.
    async fn fail_job(
        &self,
        claim: JobClaim,
        worker: &str,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Newest first, optionally of one state.
    async fn list_jobs(&self, state: Option<JobState>, limit: u32) -> StoreResult<Vec<Job>>;

    async fn get_job(&self, id: JobId) -> StoreResult<Job>;

    async fn queue_depth(&self) -> StoreResult<Vec<QueueDepth>>;

    /// Deletes up to `limit` succeeded jobs finished before `before`; returns how many.
    async fn delete_finished_jobs(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
}

/// The columns of `jobs`, in `JobRow`'s order.
pub const JOB_COLUMNS: &str = "id, kind, payload, state, attempts, max_attempts, run_at, \
     unique_key, last_error, locked_by, created_at, finished_at";

/// The columns a claim returns, in `ClaimedRow`'s order.
pub const CLAIMED_COLUMNS: &str = "id, kind, payload, attempts, max_attempts, run_at";

/// A row of `jobs`.
#[derive(Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: uuid::Uuid,
    pub kind: String,
    pub payload: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub unique_key: Option<String>,
    pub last_error: Option<String>,
    pub locked_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl TryFrom<JobRow> for Job {
    type Error = StoreError;

    fn try_from(row: JobRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: JobId::from_uuid(row.id),
            payload: parse_payload(&row.payload)?,
            state: row.state.parse().map_err(StoreError::Corrupt)?,
            kind: row.kind,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
            unique_key: row.unique_key,
            last_error: row.last_error,
            locked_by: row.locked_by,
            created_at: row.created_at,
            finished_at: row.finished_at,
        })
    }
}

/// A row returned by a claim.
#[derive(Debug, sqlx::FromRow)]
pub struct ClaimedRow {
    pub id: uuid::Uuid,
    pub kind: String,
    pub payload: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
}

impl TryFrom<ClaimedRow> for ClaimedJob {
    type Error = StoreError;

    fn try_from(row: ClaimedRow) -> Result<Self, Self::Error> {
        Ok(Self {
            id: JobId::from_uuid(row.id),
            payload: parse_payload(&row.payload)?,
            kind: row.kind,
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            run_at: row.run_at,
        })
    }
}

fn parse_payload(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("job payload: {e}")))
}
