//! Transactions that survive cancellation. A request future can be dropped at any await
//! (client gone, timeout, shutdown); sqlx 0.8's `begin` is not safe there:
//! - PostgreSQL: dropped after `BEGIN` was sent but before the answer, the connection
//!   goes back to the pool inside a transaction sqlx does not know about (depth 0), and the
//!   next request runs inside it — with the previous request's `app.org_id` and
//!   `READ ONLY`.
//! - SQLite: a custom `BEGIN IMMEDIATE` dropped while sqlx checks it took effect leaves the
//!   writer in a transaction with no handle to end it; every later `begin_with` fails.
//!
//! So a transaction is opened in a task of its own, which always runs to the end: if
//! nobody waits for it any more, its `Transaction` is dropped there and rolls back. Pools
//! also refuse, at checkout, a connection sqlx still counts as inside a transaction — the
//! net for any other path that leaks one (ADR 0008).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::pool::PoolConnectionMetadata;
use sqlx::{Connection, Database, Pool, Transaction};

/// Opens a transaction with `statement` (`None`: a plain `BEGIN`) in its own task.
pub async fn begin_detached<DB: Database>(
    pool: &Pool<DB>,
    statement: Option<Cow<'static, str>>,
) -> Result<Transaction<'static, DB>, sqlx::Error> {
    let pool = pool.clone();
    run_detached(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    })
    .await
}

/// Runs `work` in a task of its own, which goes on to its end even if the caller stops
/// waiting; a panic in it resumes in the caller.
pub async fn run_detached<T, E>(
    work: impl Future<Output = Result<T, E>> + Send + 'static,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<sqlx::Error> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        // Only a runtime shutting down cancels the task.
        Err(_) => Err(sqlx::Error::PoolClosed.into()),
    }
}

/// A `before_acquire` hook: a pooled connection that sqlx counts as inside a transaction
/// is closed instead of handed out. The release ping has already run the rollback of any
/// dropped `Transaction`, so a clean connection never trips it; the check is a counter
/// read.
pub fn refuse_in_transaction<C: Connection>(
    connection: &mut C,
    _: PoolConnectionMetadata,
) -> Pin<Box<dyn Future<Output = Result<bool, sqlx::Error>> + Send + '_>> {
    let clean = !connection.is_in_transaction();
    if !clean {
        tracing::warn!("closing a pooled connection left inside a transaction");
    }
    Box::pin(std::future::ready(Ok(clean)))
}
