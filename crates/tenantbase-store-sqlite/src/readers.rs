//! The read-only connections, in a pool of our own. sqlx's pool pings every connection it
//! takes back, to flush what a dropped transaction left behind; on SQLite that ping is one
//! more hop to the connection's thread, in a task spawned for it, per read — as much
//! thread traffic as the read itself. A reader never opens a transaction, and SQLite's
//! connection thread finishes or abandons a statement whose caller went away before it
//! takes the next one, so a returned reader is ready as it is: it goes back at once.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Up to `max` read-only connections, opened as they are first needed.
#[derive(Debug, Clone)]
pub(crate) struct Readers {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    options: SqliteConnectOptions,
    acquire_timeout: Duration,
    max: u32,
    /// One permit per connection that may be checked out (open or still to open).
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<SqliteConnection>>,
}

/// A checked-out reader; it goes back to the pool when dropped.
#[derive(Debug)]
pub(crate) struct Reader {
    conn: Option<SqliteConnection>,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Readers {
    /// A pool of up to `max` readers; one is opened now, so a database that cannot be
    /// read fails here rather than on the first request.
    pub(crate) async fn open(
        options: SqliteConnectOptions,
        max: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, sqlx::Error> {
        let max = max.max(1);
        let first = options.connect().await?;
        Ok(Self {
            shared: Arc::new(Shared {
                options,
                acquire_timeout,
                max,
                permits: Arc::new(Semaphore::new(max as usize)),
                idle: Mutex::new(vec![first]),
            }),
        })
    }

    /// An idle reader, or a new one while fewer than `max` are open; waits up to the
    /// acquire timeout for one to come back.
    pub(crate) async fn acquire(&self) -> Result<Reader, sqlx::Error> {
        let shared = &self.shared;
        let permit = tokio::time::timeout(
            shared.acquire_timeout,
            shared.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
        .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = shared.idle().pop();
        let conn = match idle {
            Some(conn) => conn,
            None => shared.options.connect().await?,
        };
        Ok(Reader {
            conn: Some(conn),
            shared: shared.clone(),
            _permit: permit,
        })
    }

    /// How many readers are open, and how many of them idle.
    pub(crate) fn stats(&self) -> (u32, u32) {
        let shared = &self.shared;
        let idle = shared.idle().len() as u32;
        let checked_out = shared.max - shared.permits.available_permits() as u32;
        (idle + checked_out, idle)
    }

    pub(crate) fn max(&self) -> u32 {
        self.shared.max
    }

    /// Refuses new checkouts and closes the idle readers; a reader checked out now is
    /// closed when it is dropped.
    pub(crate) async fn close(&self) {
        self.shared.permits.close();
        let idle = std::mem::take(&mut *self.shared.idle());
        for conn in idle {
            // Closing a read-only connection cannot lose anything; a failure to say
            // goodbye leaves nothing to undo.
            let _ = conn.close().await;
        }
    }
}

impl Shared {
    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<SqliteConnection>> {
        // The lock only guards pushes and pops: a panic cannot leave the list half made.
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::ops::Deref for Reader {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until dropped")
    }
}

impl std::ops::DerefMut for Reader {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        self.conn
            .as_mut()
            .expect("a reader holds its connection until dropped")
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A reader left inside a transaction (nothing here opens one) or returned to a
        // closed pool is dropped, which ends its thread and closes it.
        if conn.is_in_transaction() || self.shared.permits.is_closed() {
            if conn.is_in_transaction() {
                tracing::warn!("closing a reader left inside a transaction");
            }
            return;
        }
        self.shared.idle().push(conn);
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use futures::TryStreamExt;
    use sqlx::{Executor, SqliteConnection};

    use super::*;

    /// A database with `n` rows in `row`, a connection that writes to it, and `max` readers.
    async fn database(n: i64, max: u32) -> (tempfile::TempDir, SqliteConnection, Readers) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("r.db").display());
        let options = SqliteConnectOptions::from_str(&url).expect("url");
        let mut writer = options
            .clone()
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .connect()
            .await
            .expect("writer");
        writer
            .execute("CREATE TABLE row (n INTEGER NOT NULL)")
            .await
            .expect("table");
        sqlx::query("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $1) INSERT INTO row SELECT n FROM s")
            .bind(n)
            .execute(&mut writer)
            .await
            .expect("rows");
        let readers = Readers::open(options.read_only(true), max, Duration::from_millis(200))
            .await
            .expect("readers");
        (dir, writer, readers)
    }

    async fn count(readers: &Readers) -> i64 {
        let mut reader = readers.acquire().await.expect("reader");
        sqlx::query_scalar("SELECT count(*) FROM row")
            .fetch_one(&mut *reader)
            .await
            .expect("count")
    }

    #[tokio::test]
    async fn a_returned_reader_is_taken_again() {
        let (_dir, _writer, readers) = database(3, 4).await;
        for _ in 0..20 {
            assert_eq!(count(&readers).await, 3);
        }
        assert_eq!(readers.stats(), (1, 1), "one reader open, and idle");
    }

    #[tokio::test]
    async fn a_read_dropped_half_way_leaves_no_snapshot_behind() {
        // More rows than the connection's thread sends ahead (50): it is still stepping
        // the statement when the read is dropped.
        let (_dir, mut writer, readers) = database(500, 1).await;
        {
            let mut reader = readers.acquire().await.expect("reader");
            let mut rows = sqlx::query_scalar::<_, i64>("SELECT n FROM row").fetch(&mut *reader);
            assert_eq!(rows.try_next().await.expect("row"), Some(1));
        }
        sqlx::query("INSERT INTO row (n) VALUES (501)")
            .execute(&mut writer)
            .await
            .expect("insert");
        // The same connection (max 1) sees the insert: the abandoned statement was reset,
        // not left holding its read transaction.
        assert_eq!(count(&readers).await, 501);
        assert_eq!(readers.stats(), (1, 1));
    }

    #[tokio::test]
    async fn a_checkout_waits_for_a_free_reader_then_times_out() {
        let (_dir, _writer, readers) = database(1, 1).await;
        let held = readers.acquire().await.expect("reader");
        let waiting = readers.acquire().await;
        assert!(
            matches!(waiting, Err(sqlx::Error::PoolTimedOut)),
            "{waiting:?}"
        );
        let (returned, waiter) = tokio::join!(
            async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                drop(held);
            },
            count(&readers)
        );
        let () = returned;
        assert_eq!(waiter, 1, "the waiter got the reader handed back");
    }

    #[tokio::test]
    async fn a_reader_left_in_a_transaction_is_closed_not_reused() {
        let (_dir, _writer, readers) = database(1, 2).await;
        let mut reader = readers.acquire().await.expect("reader");
        // A transaction nobody ends: the reader still counts as inside it when dropped.
        std::mem::forget(reader.begin().await.expect("begin"));
        drop(reader);
        assert_eq!(readers.stats(), (0, 0), "the reader was closed");
        assert_eq!(count(&readers).await, 1, "a fresh reader opens");
    }

    #[tokio::test]
    async fn a_closed_pool_refuses_checkouts_and_takes_nothing_back() {
        let (_dir, _writer, readers) = database(1, 2).await;
        let out = readers.acquire().await.expect("reader");
        readers.close().await;
        let refused = readers.acquire().await;
        assert!(
            matches!(refused, Err(sqlx::Error::PoolClosed)),
            "{refused:?}"
        );
        drop(out);
        assert_eq!(readers.stats().1, 0, "nothing went back to the idle list");
    }
}
