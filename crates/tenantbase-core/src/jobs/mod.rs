//! Background jobs: typed handlers registered by kind, a worker pool that runs them with
//! retries and dead-lettering, cron schedules that enqueue jobs once per tick across
//! any number of replicas, and sealed payloads for jobs that carry a secret.

mod backoff;
pub mod builtin;
mod schedule;
mod sealed;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tenantbase_domain::JobId;

pub use backoff::Backoff;
pub use schedule::{Schedule, Scheduler};
pub use sealed::{JobSeal, SealError};
pub use worker::{Worker, WorkerConfig};

/// One run of a job, as its handler sees it.
#[derive(Debug, Clone)]
pub struct JobContext {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    /// 1 on the first run.
    pub attempt: i32,
}

impl JobContext {
    /// The payload as the handler's type; a payload that does not fit fails the job for good.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, JobError> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| JobError::Fail(format!("invalid payload for {}: {e}", self.kind)))
    }
}

/// Why a run did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// Worth another attempt after a backoff (until attempts run out).
    #[error("{0}")]
    Retry(String),
    /// Another attempt would fail the same way: dead-letter now.
    #[error("{0}")]
    Fail(String),
}

/// Code that runs jobs of one kind.
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// The kind this handler runs, e.g. `mail.send`.
    fn kind(&self) -> &'static str;

    async fn run(&self, job: &JobContext) -> Result<(), JobError>;
}

/// The handlers a worker knows, by kind.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: HashMap<&'static str, Arc<dyn JobHandler>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(mut self, handler: impl JobHandler + 'static) -> Self {
        self.handlers.insert(handler.kind(), Arc::new(handler));
        self
    }

    pub fn get(&self, kind: &str) -> Option<Arc<dyn JobHandler>> {
        self.handlers.get(kind).cloned()
    }

    pub fn kinds(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }
}
