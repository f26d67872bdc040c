//! `GroupTx`, one unit of work in a batch: it holds the writer's lock until it commits or
//! is dropped, and runs its statements on the batch's connection — in the batch's
//! transaction if it opened the batch, in a savepoint of its own if it joined one.

use sqlx::{Executor, SqliteConnection};
use tenantbase_store::{StoreError, StoreResult, transactions};
use tokio::sync::watch;

use super::batch::{self, Batch, Outcome};
use super::{GroupWriter, Lease};

/// A unit of work on the SQLite writer. Dropped without `commit` (an error, a cancelled
/// future, a panic), it rolls back its own statements — to its savepoint, or the whole
/// batch it opened, which holds nothing else yet — in a task of its own.
pub(crate) struct GroupTx {
    /// `None` only once `commit` or `drop` took it.
    held: Option<Held>,
    outcome: watch::Receiver<Outcome>,
}

/// How a unit began: it opened the batch, or joined it in `SAVEPOINT unit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Opened {
    Batch,
    Savepoint,
}

/// What a running unit holds: the lock, and the batch it took out of it.
struct Held {
    writer: GroupWriter,
    lease: Lease,
    batch: Batch,
    opened: Opened,
}

impl GroupTx {
    pub(super) fn new(writer: GroupWriter, lease: Lease, mut batch: Batch, opened: Opened) -> Self {
        batch.joined += 1;
        Self {
            outcome: batch.outcome(),
            held: Some(Held {
                writer,
                lease,
                batch,
                opened,
            }),
        }
    }

    fn held(&self) -> &Held {
        self.held
            .as_ref()
            .expect("only commit and drop take the hold, and both consume the unit")
    }

    fn held_mut(&mut self) -> &mut Held {
        self.held
            .as_mut()
            .expect("only commit and drop take the hold, and both consume the unit")
    }

    /// Keeps the unit in its batch and returns once the batch's COMMIT has: `Ok` means
    /// durable. Committing the batch or handing the lock on runs to its end even if the
    /// caller goes (`run_detached`), so dropping this future only stops the wait for the
    /// outcome.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        if let Some(held) = self.held.take() {
            transactions::run_detached(held.keep()).await?;
        }
        batch::wait_for(self.outcome.clone())
            .await
            .map_err(StoreError::BatchFailed)
    }
}

impl Held {
    /// Keeps the unit's statements in the batch: commits it now, or hands the lock on
    /// with the unit's savepoint (if it has one) left open, for the next unit to
    /// release or the batch's COMMIT to keep.
    async fn keep(mut self) -> StoreResult<()> {
        self.batch.kept += 1;
        if self.writer.commits_now(&self.batch) {
            // No RELEASE first: COMMIT keeps the savepoint's changes. The lease is held
            // until the COMMIT has returned.
            return self
                .writer
                .commit(self.batch)
                .await
                .map_err(StoreError::BatchFailed);
        }
        // The RELEASE goes with the next unit's SAVEPOINT, one call for both, or is
        // left to the COMMIT — one hop to the writer's thread fewer per unit.
        self.batch.release_pending = self.opened == Opened::Savepoint;
        self.writer.leave(self.lease, self.batch).await;
        Ok(())
    }

    async fn roll_back(mut self) {
        match self.opened {
            Opened::Savepoint => {
                let undo = self
                    .batch
                    .tx
                    .execute("ROLLBACK TO unit; RELEASE unit")
                    .await;
                match undo {
                    Ok(_) => self.writer.leave(self.lease, self.batch).await,
                    Err(error) => self.batch.fail(error.to_string()),
                }
            }
            // The batch holds this unit alone (others join once it leaves the lock):
            // rolling it back undoes exactly the unit, and the lock is handed on empty.
            Opened::Batch => self.batch.roll_back().await,
        }
    }
}

impl std::ops::Deref for GroupTx {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.held().batch.tx
    }
}

impl std::ops::DerefMut for GroupTx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.held_mut().batch.tx
    }
}

impl Drop for GroupTx {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        // Drop cannot await: the rollback to the savepoint and the hand-over of the lock
        // run in a task. Without a runtime (only at process exit) the batch is dropped
        // whole: its transaction rolls back and its units fail.
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(held.roll_back())),
            Err(_) => held
                .batch
                .fail("the unit was dropped outside a runtime".to_owned()),
        }
    }
}
