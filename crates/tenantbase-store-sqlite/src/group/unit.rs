//! `GroupTx`, one unit of work in a batch: it holds the writer's lock and its savepoint
//! until it commits or is dropped, and runs its statements on the batch's connection.

use sqlx::{Executor, SqliteConnection};
use tenantbase_store::{StoreError, StoreResult, transactions};
use tokio::sync::watch;

use super::batch::{self, Batch, Outcome};
use super::{GroupWriter, Lease};

/// A unit of work on the SQLite writer, inside savepoint `unit` of the open batch.
/// Dropped without `commit` (an error, a cancelled future, a panic), it rolls back to its
/// savepoint — its statements only — in a task of its own.
pub(crate) struct GroupTx {
    /// `None` only once `commit` or `drop` took it.
    held: Option<Held>,
    outcome: watch::Receiver<Outcome>,
}

/// What a running unit holds: the lock, and the batch it took out of it.
struct Held {
    writer: GroupWriter,
    lease: Lease,
    batch: Batch,
}

impl GroupTx {
    pub(super) fn new(writer: GroupWriter, lease: Lease, batch: Batch) -> Self {
        Self {
            outcome: batch.outcome(),
            held: Some(Held {
                writer,
                lease,
                batch,
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

    /// Releases the savepoint into the batch and returns once the batch's COMMIT has:
    /// `Ok` means durable. The release and the hand-over of the lock run in a task of
    /// their own, so dropping this future only stops the wait for the outcome.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        if let Some(held) = self.held.take() {
            transactions::run_detached(held.release()).await?;
        }
        batch::wait_for(self.outcome.clone())
            .await
            .map_err(StoreError::BatchFailed)
    }
}

impl Held {
    async fn release(mut self) -> StoreResult<()> {
        // A batch about to commit needs no RELEASE first: COMMIT keeps the savepoint's
        // changes, and fails if SQLite already rolled the transaction back. One statement
        // fewer for every unit that commits on its own (no load).
        if self.writer.commits_now(&self.batch) {
            self.batch.released += 1;
            // The lease is held until the COMMIT has returned.
            return self
                .writer
                .commit(self.batch)
                .await
                .map_err(StoreError::BatchFailed);
        }
        match sqlx::query("RELEASE unit")
            .execute(&mut *self.batch.tx)
            .await
        {
            Ok(_) => {
                self.batch.released += 1;
                self.writer.leave(self.lease, self.batch).await;
                Ok(())
            }
            // Only a transaction SQLite already rolled back (after SQLITE_FULL, IOERR,
            // NOMEM…) has no savepoint left to release: every unit in it is lost.
            Err(error) => {
                self.batch.fail(error.to_string());
                Err(error.into())
            }
        }
    }

    async fn roll_back(mut self) {
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
