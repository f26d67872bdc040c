//! Group commit on the single writer connection (ADR 0009). Units of work that queue for
//! the writer share one `BEGIN IMMEDIATE … COMMIT`, so one fsync. The unit that opens a
//! batch runs in the transaction itself; each unit that joins it runs inside a savepoint
//! of its own, so one unit's failure undoes only its own statements. No unit's commit
//! returns before the COMMIT of its batch has returned.
//!
//! The writer is a FIFO lock over the open batch. A unit takes the lock, opens the batch
//! if none is open, or joins it in a savepoint. When it ends (kept or rolled back), it
//! commits the batch at once if no other unit waits for the lock or the batch is full;
//! otherwise it leaves the transaction open for the waiters and makes sure a flush — one
//! more task in the lock's queue, which commits whatever is open — follows them. So the
//! lock is never left with a transaction open and nobody to end it.
//!
//! The opener needs no savepoint: nobody joins before it leaves the lock, so rolling the
//! transaction back undoes exactly it — one statement fewer per batch, which is every
//! write when writes do not queue. A kept joined unit leaves its savepoint for the next
//! unit to release, in the call that opens its own, or for the COMMIT — one statement
//! fewer per joined unit. What a unit's own RELEASE used to catch, a transaction SQLite
//! rolled back under it (IOERR, FULL, `ON CONFLICT ROLLBACK`…) whose error it did not
//! pass on, the writer connection's rollback hook catches: a batch whose transaction
//! was rolled back since its BEGIN takes no more units (a SAVEPOINT there would begin a
//! transaction of its own) and never commits. Its commit hook refuses, while a batch is
//! open, any commit but the batch's own, so a unit that writes on after such a rollback
//! keeps nothing (`hooks`).

mod batch;
mod hooks;
#[cfg(test)]
mod journal_tests;
#[cfg(test)]
mod search_tests;
#[cfg(test)]
mod tests;
mod unit;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use sqlx::SqlitePool;
use tenantbase_store::{StoreError, StoreResult, transactions};
use tokio::sync::{Mutex, OwnedMutexGuard};

use batch::Batch;
pub(crate) use hooks::TransactionWatch;
pub(crate) use unit::GroupTx;
use unit::Opened;

/// Why a batch failed whose transaction SQLite rolled back by itself.
const ROLLED_BACK: &str = "SQLite rolled the batch's transaction back under one of its units";

/// Most units one transaction carries. A batch holds SQLite's write lock, which the
/// separate `tenantbase worker` process waits for, and a failed COMMIT undoes all of it;
/// the queue itself already bounds a batch to the units waiting when it began to flush.
const MAX_BATCH_UNITS: usize = 64;

/// The lock's content: the open batch, if any.
type Slot = Option<Batch>;

/// The writer's lock, held by one unit (or flush) at a time.
type Lease = OwnedMutexGuard<Slot>;

/// Counters of the group commit, for tests and operators.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// COMMITs that succeeded: one fsync each under `synchronous=FULL`.
    pub commits: u64,
    /// Units made durable by those COMMITs.
    pub units: u64,
}

/// The single writer connection's group commit; cloning shares it.
#[derive(Clone)]
pub(crate) struct GroupWriter {
    shared: Arc<Shared>,
}

struct Shared {
    /// The writer pool (one connection): a batch holds its connection until its COMMIT,
    /// statements outside units (job claims, settings) take it between batches.
    pool: SqlitePool,
    slot: Arc<Mutex<Slot>>,
    /// Units waiting for the lock: they can join the open batch.
    waiting: AtomicUsize,
    acquire_timeout: Duration,
    commits: AtomicU64,
    units: AtomicU64,
    /// What the writer connection's hooks count and refuse.
    watch: Arc<TransactionWatch>,
}

impl GroupWriter {
    /// `watch` is what the writer pool's connections had installed as they opened.
    pub(crate) fn new(
        pool: SqlitePool,
        acquire_timeout: Duration,
        watch: Arc<TransactionWatch>,
    ) -> Self {
        Self {
            shared: Arc::new(Shared {
                pool,
                slot: Arc::new(Mutex::new(None)),
                waiting: AtomicUsize::new(0),
                acquire_timeout,
                commits: AtomicU64::new(0),
                units: AtomicU64::new(0),
                watch,
            }),
        }
    }

    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            commits: self.shared.commits.load(Ordering::Relaxed),
            units: self.shared.units.load(Ordering::Relaxed),
        }
    }

    /// Opens a unit: its own savepoint in the open batch, or a new batch.
    pub(crate) async fn begin(&self) -> StoreResult<GroupTx> {
        // Waiting for the lock can be dropped harmlessly: nothing has started yet.
        let lease = self.lock().await?;
        // From here on, dropped half way, the unit would leave the lock to nobody with a
        // transaction open: the rest runs to its end even then (ADR 0008), and a unit
        // nobody waits for any more is dropped there, which rolls it back.
        transactions::run_detached(self.clone().open_unit(lease)).await
    }

    async fn lock(&self) -> StoreResult<Lease> {
        let waiting = Waiting::count(&self.shared.waiting);
        let lease = tokio::time::timeout(
            self.shared.acquire_timeout,
            self.shared.slot.clone().lock_owned(),
        )
        .await
        .map_err(|_| StoreError::from(sqlx::Error::PoolTimedOut))?;
        drop(waiting);
        Ok(lease)
    }

    async fn open_unit(self, mut lease: Lease) -> StoreResult<GroupTx> {
        let open = lease.take().and_then(|batch| self.still_open(batch));
        let Some(mut batch) = open else {
            // IMMEDIATE takes the write lock up front: a unit that reads and then writes
            // cannot fail halfway when another process (a separate worker) writes.
            let tx = self.shared.pool.begin_with("BEGIN IMMEDIATE").await?;
            let open = self.shared.watch.open_batch();
            let batch = Batch::new(tx, self.rollbacks(), open);
            return Ok(GroupTx::new(self, lease, batch, Opened::Batch));
        };
        // The unit kept before this one is released first, not left nested under this
        // one's: with savepoints open SQLite keeps a sub-journal of the pages they
        // changed, which a batch of nested ones grows to every unit's pages (creates
        // under load ran at two thirds the rate).
        let statement = if batch.release_pending {
            "RELEASE unit; SAVEPOINT unit"
        } else {
            "SAVEPOINT unit"
        };
        if let Err(error) = sqlx::query(statement).execute(&mut *batch.tx).await {
            if batch.release_pending {
                // Whether the kept unit's RELEASE ran is unknown: the batch cannot commit.
                batch.fail(error.to_string());
            } else {
                self.leave(lease, batch).await;
            }
            return Err(error.into());
        }
        batch.release_pending = false;
        Ok(GroupTx::new(self, lease, batch, Opened::Savepoint))
    }

    /// `batch`, unless SQLite rolled its transaction back under one of its units: then
    /// its units fail, and nobody may join it — a SAVEPOINT there would begin a new
    /// transaction, whose RELEASE would commit on its own.
    fn still_open(&self, batch: Batch) -> Option<Batch> {
        if !self.rolled_back(&batch) {
            return Some(batch);
        }
        batch.fail(ROLLED_BACK.to_owned());
        None
    }

    /// How many transactions the writer connection has rolled back so far.
    fn rollbacks(&self) -> u64 {
        self.shared.watch.rollbacks()
    }

    /// Whether SQLite rolled `batch`'s transaction back since its BEGIN.
    fn rolled_back(&self, batch: &Batch) -> bool {
        batch.rolled_back_since(self.rollbacks())
    }

    /// Hands the lock on once a unit has ended (kept or rolled back): commits the batch
    /// now if no unit waits to join it or it is full; otherwise leaves it open for the
    /// waiters, with a flush queued behind them.
    async fn leave(&self, mut lease: Lease, mut batch: Batch) {
        if self.commits_now(&batch) {
            // The outcome reaches the units through the batch's cell.
            let _ = self.commit(batch).await;
            return;
        }
        if !batch.flush_queued {
            batch.flush_queued = true;
            tokio::spawn(self.clone().flush());
        }
        *lease = Some(batch);
    }

    /// Commits whatever batch is open when its turn comes. It waits without a deadline:
    /// it is what guarantees that an open batch ends, and the units ahead of it each hold
    /// the lock for one unit of work.
    async fn flush(self) {
        let mut lease = self.shared.slot.clone().lock_owned().await;
        if let Some(batch) = lease.take() {
            // The outcome reaches the units through the batch's cell.
            let _ = self.commit(batch).await;
        }
    }

    /// Whether a unit leaving `batch` commits it at once: no unit waits to join it, or it
    /// is full.
    fn commits_now(&self, batch: &Batch) -> bool {
        self.shared.waiting.load(Ordering::Acquire) == 0 || batch.joined >= MAX_BATCH_UNITS
    }

    /// Commits `batch`, unless SQLite rolled its transaction back under one of its
    /// units: then the batch fails whole.
    async fn commit(&self, batch: Batch) -> Result<(), String> {
        if self.rolled_back(&batch) {
            batch.fail(ROLLED_BACK.to_owned());
            return Err(ROLLED_BACK.to_owned());
        }
        let kept = batch.kept as u64;
        batch
            .commit(|| {
                self.shared.commits.fetch_add(1, Ordering::Relaxed);
                self.shared.units.fetch_add(kept, Ordering::Relaxed);
            })
            .await
    }
}

impl std::fmt::Debug for GroupWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupWriter")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// One unit counted among those waiting for the lock, until it holds it or gives up.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicUsize) -> Self {
        waiting.fetch_add(1, Ordering::AcqRel);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
