//! Transactions that survive cancellation. A request future can be dropped at any await
//! (client gone, timeout, shutdown); sqlx 0.8's `begin` is not safe there:
//! - PostgreSQL: dropped after `BEGIN` was sent but before the answer, the connection
//!   goes back to the pool inside a transaction sqlx does not know about (depth 0), and the
//!   next request runs inside it — with the previous request's `app.org_id` and
//!   `READ ONLY`.
//! - SQLite: a custom `BEGIN IMMEDIATE` dropped while sqlx checks it took effect leaves the
//!   writer in a transaction with no handle to end it; every later `begin_with` fails.
//!
//! So a transaction is opened by work that always runs to its end (`run_detached`): if
//! nobody waits for it any more, it finishes in a task of its own, where its
//! `Transaction` is dropped and rolls back. Pools
//! also refuse, at checkout, a connection sqlx still counts as inside a transaction — the
//! net for any other path that leaks one (ADR 0008).

use std::borrow::Cow;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use sqlx::pool::PoolConnectionMetadata;
use sqlx::{Connection, Database, Pool, Transaction};
use tokio::runtime::Handle;

/// Opens a transaction with `statement` (`None`: a plain `BEGIN`), to the end even if
/// the caller stops waiting.
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

/// Runs `work` to its end even if the caller stops waiting; a panic in it resumes in the
/// caller. It is polled in the caller's task while the caller waits — no hand-off to
/// another task and back, which on a write's path was two scheduler hops per unit while
/// it held SQLite's writer — and spawned to finish in a task of its own only if the
/// caller's future is dropped before it ended.
pub fn run_detached<F>(work: F) -> Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Detached {
        work: Some(Box::pin(work)),
    }
}

/// The future `run_detached` returns.
#[must_use = "the work runs only once awaited"]
pub struct Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    /// `None` once it has ended (or panicked).
    work: Option<Pin<Box<F>>>,
}

impl<F> Future for Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let Some(work) = self.work.as_mut() else {
            panic!("a run_detached future polled after it ended");
        };
        // A panic must not leave the work here for `drop` to spawn: polled again, an
        // async block that panicked panics once more, in a task nobody waits for.
        match panic::catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => {
                self.work = None;
                Poll::Ready(output)
            }
            Err(payload) => {
                self.work = None;
                panic::resume_unwind(payload)
            }
        }
    }
}

impl<F> Drop for Detached<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        // Without a runtime (only at process exit) the work is dropped with it; what it
        // holds rolls back as it would in a task the runtime dropped.
        if let (Some(work), Ok(runtime)) = (self.work.take(), Handle::try_current()) {
            drop(runtime.spawn(work));
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

    const PATIENCE: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn the_work_runs_in_the_callers_task_while_it_waits() {
        let ids = tokio::spawn(async {
            let inside = run_detached(async { tokio::task::id() }).await;
            (tokio::task::id(), inside)
        });
        let (caller, inside) = ids.await.expect("the caller ran");
        assert_eq!(caller, inside, "no hand-off to another task");
    }

    #[tokio::test]
    async fn work_the_caller_stops_waiting_for_runs_to_its_end() {
        // Dropped while the work waits half way, and dropped before it was ever polled.
        for polled_first in [true, false] {
            let (go_on, gone_on) = oneshot::channel::<()>();
            let (finish, finished) = oneshot::channel::<&str>();
            let work = run_detached(async move {
                let _ = gone_on.await;
                let _ = finish.send("ended");
            });
            if polled_first {
                let caller = tokio::spawn(work);
                tokio::task::yield_now().await;
                caller.abort();
                assert!(caller.await.expect_err("aborted").is_cancelled());
            } else {
                drop(work);
            }
            go_on.send(()).expect("the work still waits");
            let ended = tokio::time::timeout(PATIENCE, finished).await;
            assert_eq!(ended.expect("in time").expect("sent"), "ended");
        }
    }

    /// Panics the first time it is polled, and counts every poll.
    struct PanicsOnce(Arc<AtomicUsize>);

    impl Future for PanicsOnce {
        type Output = ();

        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.0.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("inside the work");
            }
            Poll::Ready(())
        }
    }

    #[tokio::test]
    async fn a_panic_in_the_work_resumes_in_the_caller_and_the_work_is_not_polled_again() {
        let polls = Arc::new(AtomicUsize::new(0));
        let caller = tokio::spawn(run_detached(PanicsOnce(polls.clone())));
        let panic = caller.await.expect_err("panicked").into_panic();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"inside the work"));
        // Had the work been left in place, dropping the caller would have spawned it.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(polls.load(Ordering::SeqCst), 1);
    }
}
