//! Units of work: one transaction in which a change, its event and its follow-up jobs are
//! written together — all of them or none.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::JobId;

use crate::StoreResult;
use crate::events::{Event, NewEvent};
use crate::jobs::{Enqueued, NewJob};

/// An open transaction. Dropping it without `commit` rolls everything back.
#[async_trait]
pub trait UnitOfWork: Send {
    /// Appends to the event's chain. Appends to one chain are serialized until commit, so
    /// concurrent units keep it a single unbroken chain.
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<Event>;

    async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued>;

    /// Puts a dead job back in the queue with fresh attempts; `NotFound` unless dead.
    async fn retry_job(&mut self, id: JobId, now: DateTime<Utc>) -> StoreResult<()>;

    /// Removes the events of `chain` up to `through_seq` and records the last one's hash
    /// as the chain's anchor. Used once those events are safely archived.
    async fn truncate_chain(
        &mut self,
        chain: &str,
        through_seq: i64,
        through_hash: &str,
    ) -> StoreResult<u64>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

#[async_trait]
pub trait TxStore: Send + Sync {
    async fn begin(&self) -> StoreResult<Box<dyn UnitOfWork>>;
}
