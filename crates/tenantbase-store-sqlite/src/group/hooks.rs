//! What the writer connection's SQLite hooks tell the group commit and hold it to: every
//! transaction SQLite rolls back is counted, while a batch is open nothing commits but
//! the batch's own COMMIT, and a row queued for the project search index marks the index
//! behind (`search_index`). Set on each writer connection as it opens (`after_connect`),
//! through sqlx's `LockedSqliteHandle`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sqlx::sqlite::SqliteOperation;

use crate::search_index;

/// The writer connection's transaction events, shared by its hooks and the group commit.
#[derive(Debug)]
pub(crate) struct TransactionWatch {
    /// Transactions rolled back, explicitly or by SQLite itself after an error. Rolling
    /// back to a savepoint is not one.
    rollbacks: AtomicU64,
    /// A batch is open: a commit now is not its COMMIT but a statement running outside
    /// the transaction SQLite rolled back under it (autocommit, or a SAVEPOINT that began
    /// a new one), and is refused.
    batch_open: AtomicBool,
    /// The search index may have queued rows to take in: one was queued, or a rollback
    /// may have put queued rows back. True at first, for what an earlier process left.
    search_behind: AtomicBool,
}

impl Default for TransactionWatch {
    fn default() -> Self {
        Self {
            rollbacks: AtomicU64::new(0),
            batch_open: AtomicBool::new(false),
            search_behind: AtomicBool::new(true),
        }
    }
}

impl TransactionWatch {
    /// Sets the hooks on `connection`, the writer pool's.
    pub(crate) async fn install(
        self: Arc<Self>,
        connection: &mut sqlx::SqliteConnection,
    ) -> Result<(), sqlx::Error> {
        let mut handle = connection.lock_handle().await?;
        let rollbacks = self.clone();
        handle.set_rollback_hook(move || {
            rollbacks.search_behind.store(true, Ordering::Release);
            rollbacks.rollbacks.fetch_add(1, Ordering::AcqRel);
        });
        let queued = self.clone();
        handle.set_update_hook(move |change| {
            // Only what is queued: the catch-up's own DELETE must not mark it behind again.
            if matches!(change.operation, SqliteOperation::Insert)
                && change.table == search_index::QUEUE
            {
                queued.search_behind.store(true, Ordering::Release);
            }
        });
        // `false` turns the commit into a rollback.
        handle.set_commit_hook(move || !self.batch_open.load(Ordering::Acquire));
        Ok(())
    }

    /// How many transactions the connection has rolled back so far.
    pub(super) fn rollbacks(&self) -> u64 {
        self.rollbacks.load(Ordering::Acquire)
    }

    /// Marks a batch open until the returned guard is dropped.
    pub(super) fn open_batch(self: &Arc<Self>) -> OpenBatch {
        self.batch_open.store(true, Ordering::Release);
        OpenBatch(self.clone())
    }
}

/// A batch open on the writer: commits are refused until it is dropped, which its batch
/// does just before its COMMIT or when it ends otherwise.
#[derive(Debug)]
pub(super) struct OpenBatch(Arc<TransactionWatch>);

impl OpenBatch {
    /// Whether the search index may be behind, marking it caught up: the caller is about
    /// to take the queue in, and fails its batch if it cannot.
    pub(super) fn take_search_behind(&self) -> bool {
        self.0.search_behind.swap(false, Ordering::AcqRel)
    }
}

impl Drop for OpenBatch {
    fn drop(&mut self) {
        self.0.batch_open.store(false, Ordering::Release);
    }
}
