use futures_core::future::BoxFuture;
use sqlx_core::database::Database;
use std::borrow::Cow;

use crate::error::Error;
use crate::executor::Executor;

use crate::{PgConnection, Postgres};

pub(crate) use sqlx_core::transaction::*;

/// Implementation of [`TransactionManager`] for PostgreSQL.
pub struct PgTransactionManager;

impl TransactionManager for PgTransactionManager {
    type Database = Postgres;

    fn begin<'conn>(
        conn: &'conn mut PgConnection,
        statement: Option<Cow<'static, str>>,
    ) -> BoxFuture<'conn, Result<(), Error>> {
        Box::pin(async move {
            // A `commit_with_next` or `defer_next` left unused (its statement never ran)
            // belongs to a transaction that has ended.
            conn.inner.commit_with_next = false;
            conn.inner.defer_next = false;
            let depth = conn.inner.transaction_depth;
            let statement = match statement {
                // custom `BEGIN` statements are not allowed if we're already in
                // a transaction (we need to issue a `SAVEPOINT` instead)
                Some(_) if depth > 0 => return Err(Error::InvalidSavePointStatement),
                // Sent with the transaction's first statement (`pipeline_begin`); its
                // answer is read, and checked, before that statement's.
                Some(statement)
                    if conn.inner.pipeline_begin
                        && statement.starts_with("BEGIN")
                        && conn.inner.pending_ready_for_query_count == 0
                        && conn.inner.stream.write_buffer_mut().is_empty()
                        && !conn.in_transaction() =>
                {
                    conn.queue_unsynced_begin(&statement)?;
                    conn.inner.transaction_depth += 1;
                    return Ok(());
                }
                Some(statement) => statement,
                None => begin_ansi_transaction_sql(depth),
            };

            let rollback = Rollback::new(conn);
            rollback.conn.queue_simple_query(&statement)?;
            rollback.conn.wait_until_ready().await?;
            if !rollback.conn.in_transaction() {
                return Err(Error::BeginFailed);
            }
            rollback.conn.inner.transaction_depth += 1;
            rollback.defuse();

            Ok(())
        })
    }

    fn commit(conn: &mut PgConnection) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            if conn.inner.transaction_depth > 0 {
                conn.execute(&*commit_ansi_transaction_sql(conn.inner.transaction_depth))
                    .await?;

                conn.inner.transaction_depth -= 1;
            }

            Ok(())
        })
    }

    fn rollback(conn: &mut PgConnection) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            if conn.inner.transaction_depth > 0 {
                conn.execute(&*rollback_ansi_transaction_sql(
                    conn.inner.transaction_depth,
                ))
                .await?;

                conn.inner.transaction_depth -= 1;
            }

            Ok(())
        })
    }

    fn start_rollback(conn: &mut PgConnection) {
        if conn.inner.transaction_depth > 0 {
            // Statements queued without a `Sync` (a pipelined `BEGIN`) and still unsent are
            // synced on their own; their answers are read as any others when the
            // connection next waits. Whether the `BEGIN` opened the transaction no longer
            // matters once that is rolled back.
            if std::mem::take(&mut conn.inner.unsynced) > 0 {
                conn.write_sync();
            }
            conn.inner.begin_unconfirmed = false;
            conn.queue_simple_query(&rollback_ansi_transaction_sql(conn.inner.transaction_depth))
                .expect("BUG: Rollback query somehow too large for protocol");

            conn.inner.transaction_depth -= 1;
        }
    }

    fn get_transaction_depth(conn: &<Self::Database as Database>::Connection) -> usize {
        conn.inner.transaction_depth
    }
}

struct Rollback<'c> {
    conn: &'c mut PgConnection,
    defuse: bool,
}

impl Drop for Rollback<'_> {
    fn drop(&mut self) {
        if !self.defuse {
            PgTransactionManager::start_rollback(self.conn)
        }
    }
}

impl<'c> Rollback<'c> {
    fn new(conn: &'c mut PgConnection) -> Self {
        Self {
            conn,
            defuse: false,
        }
    }
    fn defuse(mut self) {
        self.defuse = true;
    }
}
