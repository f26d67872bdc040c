//! The platform's statements — event log and its sealing, job queue, settings — and the platform unit of
//! work, which the identity statements share.

pub(crate) mod events;
pub(crate) mod jobs;
pub(crate) mod sealing;
pub(crate) mod settings;

use async_trait::async_trait;
use tenantbase_store::{StoreResult, UnitOfWork};

use crate::dialect::WriteTx;

/// A platform unit of work on this backend: one transaction, in which each resource's
/// statements run through the unit traits implemented beside them.
pub(crate) struct PlatformTx {
    pub(crate) tx: WriteTx,
    /// Open while the unit is: its trace span ends when the unit commits or is dropped.
    _span: tracing::Span,
}

impl PlatformTx {
    pub(crate) fn new(tx: WriteTx) -> Self {
        Self {
            tx,
            _span: super::unit_span("platform"),
        }
    }
}

#[async_trait]
impl UnitOfWork for PlatformTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        Ok(self.tx.commit().await?)
    }
}
