//! Jobs of the durable queue as stored, their states, and what enqueueing one did.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};

use crate::JobId;

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

impl ClaimedJob {
    /// This run's claim, to record its outcome against.
    pub fn claim(&self) -> JobClaim {
        JobClaim {
            id: self.id,
            attempt: self.attempts,
        }
    }
}

/// One claim of a job: with the claiming worker's id, what a run's outcome is recorded
/// against. The attempt tells this run from a later claim of the same job by the same
/// worker, so a report that comes after the lease ran out cannot settle the newer run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobClaim {
    pub id: JobId,
    /// The claim's `attempts`, 1 on the first run.
    pub attempt: i32,
}

/// Jobs per kind and state, for metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDepth {
    pub kind: String,
    pub state: JobState,
    pub count: i64,
}
