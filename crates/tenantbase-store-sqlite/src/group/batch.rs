//! One batch: the open transaction that the units queued for the writer share, and the
//! outcome its COMMIT gives each of them.

use sqlx::Executor;
use tokio::sync::watch;

use super::hooks::OpenBatch;
use crate::search_index;

/// What a batch's end tells its units: `Ok` once its COMMIT returned, or why it failed.
pub(super) type Outcome = Option<Result<(), String>>;

/// An open `BEGIN IMMEDIATE` transaction on the writer and the units in it.
pub(super) struct Batch {
    pub(super) tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    outcome: watch::Sender<Outcome>,
    /// Units that ran in it, kept or not (the batch bound counts these).
    pub(super) joined: usize,
    /// Units kept in it: what its COMMIT makes durable.
    pub(super) kept: usize,
    /// The writer's rollback count at its BEGIN: any later rollback ended it.
    rollbacks_at_begin: u64,
    /// A flush — a task in the lock's queue that commits whatever is open — is on its
    /// way; one is enough.
    pub(super) flush_queued: bool,
    /// The last unit kept left its savepoint open: the next unit releases it in the call
    /// that opens its own, and COMMIT keeps it as it is.
    pub(super) release_pending: bool,
    /// Refuses every commit on the writer but the batch's COMMIT while it lives.
    open: OpenBatch,
}

impl Batch {
    /// A batch over `tx`, just begun when the writer had counted `rollbacks`.
    pub(super) fn new(
        tx: sqlx::Transaction<'static, sqlx::Sqlite>,
        rollbacks: u64,
        open: OpenBatch,
    ) -> Self {
        Self {
            tx,
            outcome: watch::Sender::new(None),
            joined: 0,
            kept: 0,
            flush_queued: false,
            release_pending: false,
            rollbacks_at_begin: rollbacks,
            open,
        }
    }

    /// Whether a rollback happened since its BEGIN, the writer having counted `rollbacks`.
    pub(super) fn rolled_back_since(&self, rollbacks: u64) -> bool {
        rollbacks != self.rollbacks_at_begin
    }

    /// Where a unit of this batch learns how it ended.
    pub(super) fn outcome(&self) -> watch::Receiver<Outcome> {
        self.outcome.subscribe()
    }

    /// Takes in what its units queued for the search index, commits (one fsync under
    /// `synchronous=FULL`) and tells every unit — after `committed` has run, if it did, so
    /// that a unit told sees what that counts. If the index cannot take the queue in,
    /// nothing commits.
    pub(super) async fn commit(self, committed: impl FnOnce()) -> Result<(), String> {
        let Self {
            mut tx,
            outcome,
            open,
            ..
        } = self;
        let behind = open.take_search_behind();
        let result = async {
            if behind {
                tx.execute(search_index::CATCH_UP).await?;
            }
            drop(open);
            tx.commit().await
        }
        .await
        .map_err(|error| error.to_string());
        if result.is_ok() {
            committed();
        }
        outcome.send_replace(Some(result.clone()));
        result
    }

    /// Rolls the batch back, with nobody in it to tell (the unit that opened it is the one
    /// going). It is gone, its hold on commits too, before the caller hands the lock on.
    pub(super) async fn roll_back(self) {
        if let Err(error) = self.tx.rollback().await {
            tracing::warn!(%error, "rolling back a unit that opened its batch");
        }
    }

    /// Ends the batch without committing: the dropped transaction rolls back, and every
    /// unit in it fails with `cause`.
    pub(super) fn fail(self, cause: String) {
        tracing::warn!(%cause, units = self.joined, "group commit batch rolled back");
        self.outcome.send_replace(Some(Err(cause)));
    }
}

/// Waits for the end of the batch a unit was kept in. A batch dropped without
/// an outcome (its runtime shut down) committed nothing.
pub(super) async fn wait_for(mut outcome: watch::Receiver<Outcome>) -> Result<(), String> {
    match outcome.wait_for(Option::is_some).await {
        Ok(ended) => ended
            .clone()
            .unwrap_or_else(|| unreachable!("wait_for returns once the batch has ended")),
        Err(_) => Err("the batch was abandoned before its COMMIT".to_owned()),
    }
}
