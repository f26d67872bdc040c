//! Units of work: one transaction in which a change, its event and its follow-up jobs are
//! written together — all of them or none.

use async_trait::async_trait;

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

    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

#[async_trait]
pub trait TxStore: Send + Sync {
    async fn begin(&self) -> StoreResult<Box<dyn UnitOfWork>>;
}
