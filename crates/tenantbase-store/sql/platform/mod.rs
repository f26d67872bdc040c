//! The platform's statements — event log and its sealing, job queue, settings — and the platform unit of
//! work, which the identity statements share.

pub(crate) mod events;
pub(crate) mod jobs;
pub(crate) mod sealing;
pub(crate) mod settings;

use async_trait::async_trait;
use tenantbase_domain::id::UserId;
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{StoreResult, UnitOfWork};

use crate::dialect::WriteTx;

/// A platform unit of work on this backend: one transaction, in which each resource's
/// statements run through the unit traits implemented beside them.
pub(crate) struct PlatformTx {
    pub(crate) tx: WriteTx,
    /// The user whose row this unit has locked (`USER_ROW_LOCK`), if it has: a sign-in
    /// needs the lock before it opens a session, and need not take it twice.
    pub(crate) locked_user: Option<UserId>,
    /// Open while the unit is: its trace span ends when the unit commits or is dropped.
    _span: tracing::Span,
}

impl PlatformTx {
    pub(crate) fn new(tx: WriteTx) -> Self {
        Self {
            tx,
            locked_user: None,
            _span: super::unit_span("platform"),
        }
    }
}

#[async_trait]
impl UnitOfWork for PlatformTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        Ok(self.tx.commit().await?)
    }

    async fn commit_with_events(self: Box<Self>, events: Vec<NewEvent>) -> StoreResult<()> {
        let mut tx = self.tx;
        events::enter_platform_scope(&mut tx).await?;
        events::append_events_and_commit(tx, events).await
    }
}
