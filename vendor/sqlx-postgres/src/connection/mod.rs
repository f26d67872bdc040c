use std::borrow::Cow;
use std::fmt::{self, Debug, Formatter};
use std::sync::Arc;

use crate::HashMap;
use futures_core::future::BoxFuture;
use futures_util::FutureExt;

use crate::common::StatementCache;
use crate::error::Error;
use crate::ext::ustr::UStr;
use crate::io::{PortalId, StatementId};
use crate::message::{
    BackendMessageFormat, Bind, Close, Execute, Parse, Query, ReadyForQuery, ReceivedMessage,
    Terminate, TransactionStatus,
};
use crate::statement::PgStatementMetadata;
use crate::transaction::Transaction;
use crate::types::Oid;
use crate::{PgConnectOptions, PgTypeInfo, Postgres};

pub(crate) use sqlx_core::connection::*;

pub use self::stream::PgStream;

pub(crate) mod describe;
mod establish;
mod executor;
mod sasl;
mod stream;
mod tls;

/// A connection to a PostgreSQL database.
///
/// See [`PgConnectOptions`] for connection URL reference.
pub struct PgConnection {
    pub(crate) inner: Box<PgConnectionInner>,
}

pub struct PgConnectionInner {
    // underlying TCP or UDS stream,
    // wrapped in a potentially TLS stream,
    // wrapped in a buffered stream
    pub(crate) stream: PgStream,

    // process id of this backend
    // used to send cancel requests
    #[allow(dead_code)]
    process_id: u32,

    // secret key of this backend
    // used to send cancel requests
    #[allow(dead_code)]
    secret_key: u32,

    // sequence of statement IDs for use in preparing statements
    // in PostgreSQL, the statement is prepared to a user-supplied identifier
    next_statement_id: StatementId,

    // cache statement by query string to the id and columns
    cache_statement: StatementCache<(StatementId, Arc<PgStatementMetadata>)>,

    // cache user-defined types by id <-> info
    cache_type_info: HashMap<Oid, PgTypeInfo>,
    cache_type_oid: HashMap<UStr, Oid>,
    cache_elem_type_to_array: HashMap<Oid, Oid>,

    // number of ReadyForQuery messages that we are currently expecting
    pub(crate) pending_ready_for_query_count: usize,

    // current transaction status
    transaction_status: TransactionStatus,
    pub(crate) transaction_depth: usize,

    log_settings: LogSettings,

    // `PgConnectOptions::pipeline_begin`
    pub(crate) pipeline_begin: bool,

    // `PgConnectOptions::skip_idle_ping`
    pub(crate) skip_idle_ping: bool,

    // statements queued without a `Sync` of their own (a pipelined `BEGIN`'s parts,
    // `queue_before_next`) whose answers have not been read: they come before those of
    // anything sent after them
    pub(crate) unsynced: usize,

    // whether the next ReadyForQuery is the first since a pipelined `BEGIN`, which must
    // report a transaction (open, or failed by a later statement)
    pub(crate) begin_unconfirmed: bool,

    // `set_statement_prefix`: a statement with one text parameter, and its argument
    pub(crate) statement_prefix: Option<(&'static str, String)>,

    // `commit_with_next`: the next prepared statement carries the transaction's `COMMIT`
    pub(crate) commit_with_next: bool,

    // a `COMMIT` went with a statement and the ReadyForQuery after it is not yet read
    pub(crate) commit_unconfirmed: bool,

    // the pipelined `BEGIN` is `BEGIN …` followed by `SET …` parts only, none of which can
    // end the transaction it opens
    pub(crate) begin_plain: bool,

    // `defer_next`: the next prepared statement is queued without a `Sync`
    pub(crate) defer_next: bool,
}

impl PgConnection {
    /// the version number of the server in `libpq` format
    pub fn server_version_num(&self) -> Option<u32> {
        self.inner.stream.server_version_num
    }

    // will return when the connection is ready for another query
    pub(crate) async fn wait_until_ready(&mut self) -> Result<(), Error> {
        // Statements queued without a `Sync` (a pipelined `BEGIN`) are synced on their own
        // when what comes next cannot go with them.
        if self.inner.unsynced > 0 {
            self.write_sync();
            self.inner.stream.flush().await?;
            self.read_unsynced_answers().await?;
        }

        if !self.inner.stream.write_buffer_mut().is_empty() {
            self.inner.stream.flush().await?;
        }

        while self.inner.pending_ready_for_query_count > 0 {
            let message = self.inner.stream.recv().await?;

            if let BackendMessageFormat::ReadyForQuery = message.format {
                self.handle_ready_for_query(message)?;
            }
        }

        Ok(())
    }

    /// Like `wait_until_ready`, except that statements queued without a `Sync` (and
    /// nothing else) are left unsent, to go out with the prepared statement about to be
    /// written.
    pub(crate) async fn wait_until_ready_but_unsynced(&mut self) -> Result<(), Error> {
        if self.inner.unsynced > 0 && self.inner.pending_ready_for_query_count == 0 {
            return Ok(());
        }
        self.wait_until_ready().await
    }

    /// Queues the parts of a custom `BEGIN` (`pipeline_begin`) to go out with the
    /// transaction's first statement.
    pub(crate) fn queue_unsynced_begin(&mut self, statement: &str) -> Result<(), Error> {
        self.queue_unsynced(statement)?;
        self.inner.begin_unconfirmed = true;
        self.inner.begin_plain = is_plain_begin(statement);
        Ok(())
    }

    /// Sends `statement` with the next prepared statement instead of on its own: one
    /// round trip fewer. Its answer is read before that statement's; if it fails, the
    /// server skips that statement, which fails with its error (as does whatever syncs
    /// first: a simple query, a `COMMIT`). For statements whose answer is success or
    /// failure alone, such as `SET LOCAL …`; parts separated by `;`, none holding one
    /// itself, no parameters.
    pub async fn queue_before_next(&mut self, statement: &str) -> Result<(), Error> {
        if self.inner.pending_ready_for_query_count > 0 {
            self.wait_until_ready().await?;
        }
        self.queue_unsynced(statement)
    }

    /// Runs `sql` (one statement with one text parameter, bound to `argument`), prepared
    /// once, before each prepared statement this connection runs outside a transaction,
    /// in the same pipeline: so in the same implicit transaction, which ends at that
    /// statement's `Sync`. What it sets with `set_config(…, true)` holds for that
    /// statement alone, and if it fails the statement is skipped and fails with its
    /// error. A simple query outside a transaction is refused while a prefix is set.
    /// `None` clears it: a pooled connection must be cleared before it goes back.
    pub fn set_statement_prefix(&mut self, prefix: Option<(&'static str, String)>) {
        self.inner.statement_prefix = prefix;
    }

    /// Sends the transaction's `COMMIT` with the next statement, in the same pipeline,
    /// instead of on its own: one round trip fewer. If that statement fails, the server
    /// skips the `COMMIT` and the transaction is rolled back as usual; if both succeed,
    /// the statement returns once the transaction has committed, and the transaction's
    /// own `commit` then has nothing left to send. A `COMMIT` that fails fails that
    /// statement. Only for a prepared statement at the outermost transaction, once a
    /// pipelined `BEGIN` has been confirmed (a statement ran after it); otherwise, and
    /// for any statement after the next, the usual `commit` applies.
    pub fn commit_with_next(&mut self) {
        self.inner.commit_with_next = true;
    }

    /// Queues the next prepared statement inside a transaction without a `Sync`, unsent,
    /// instead of running it: it goes out with the statement after it (with that one's
    /// `COMMIT`, if `commit_with_next` asks), one round trip fewer. It returns at once,
    /// with no rows and no rows affected, so it is for statements whose answer is success
    /// or failure alone (an `INSERT` without `RETURNING`). Its answer is read before the
    /// next statement's; if it failed, the server skips everything up to that statement's
    /// `Sync`, and the next statement (or the `COMMIT`, or whatever syncs first) fails with
    /// its error. Outside a transaction it is ignored and the statement runs as usual.
    pub fn defer_next(&mut self) {
        self.inner.defer_next = true;
    }

    /// Writes a `COMMIT` without a `Sync` of its own, after the statement just written,
    /// if `commit_with_next` `asked` for it. Not inside a savepoint, nor behind a `BEGIN`
    /// not yet confirmed unless it is plain (`BEGIN` and `SET` parts only): otherwise a
    /// ReadyForQuery reporting no transaction would not tell a commit from a `BEGIN` that
    /// opened none.
    pub(crate) fn write_commit_if(&mut self, asked: bool) -> Result<(), Error> {
        let unconfirmed = self.inner.begin_unconfirmed && !self.inner.begin_plain;
        if !asked || self.inner.transaction_depth != 1 || unconfirmed {
            return Ok(());
        }
        self.write_unnamed("COMMIT")?;
        self.inner.commit_unconfirmed = true;
        Ok(())
    }

    /// Queues `statement`'s parts as extended-protocol statements with no `Sync` of their
    /// own: they go out with the next statement, and if one fails the server skips
    /// everything up to that statement's `Sync`.
    fn queue_unsynced(&mut self, statement: &str) -> Result<(), Error> {
        let parts = statement
            .split(';')
            .map(str::trim)
            .filter(|part| !part.is_empty());
        for part in parts {
            self.write_unnamed(part)?;
            self.inner.unsynced += 1;
        }
        Ok(())
    }

    /// Writes `statement` (no parameters) as the unnamed statement and portal: Parse,
    /// Bind and Execute, with no `Sync`.
    fn write_unnamed(&mut self, statement: &str) -> Result<(), Error> {
        self.inner.stream.write_msg(Parse {
            statement: StatementId::UNNAMED,
            query: statement,
            param_types: &[],
        })?;
        self.inner.stream.write_msg(Bind {
            portal: PortalId::UNNAMED,
            statement: StatementId::UNNAMED,
            formats: &[],
            num_params: 0,
            params: &[],
            result_formats: &[],
        })?;
        self.inner.stream.write_msg(Execute {
            portal: PortalId::UNNAMED,
            limit: 0,
        })
    }

    /// Reads the answers to the statements queued without a `Sync`, which come before
    /// those of what was sent after them. If one failed, the server skipped everything up
    /// to the next `Sync`: that `Sync`'s ReadyForQuery is read too, and the error
    /// returned.
    pub(crate) async fn read_unsynced_answers(&mut self) -> Result<(), Error> {
        while self.inner.unsynced > 0 {
            match self.inner.stream.recv().await {
                Ok(message) if message.format == BackendMessageFormat::CommandComplete => {
                    self.inner.unsynced -= 1;
                }
                Ok(_) => {}
                Err(Error::Database(error)) => {
                    self.inner.unsynced = 0;
                    self.inner.begin_unconfirmed = false;
                    loop {
                        let message = self.inner.stream.recv().await?;
                        if message.format == BackendMessageFormat::ReadyForQuery {
                            self.handle_ready_for_query(message)?;
                            return Err(Error::Database(error));
                        }
                    }
                }
                Err(error) => return Err(error),
            }
        }
        Ok(())
    }

    async fn recv_ready_for_query(&mut self) -> Result<(), Error> {
        let r: ReadyForQuery = self.inner.stream.recv_expect().await?;

        self.inner.pending_ready_for_query_count -= 1;
        self.ready_for_query(r.transaction_status)
    }

    #[inline(always)]
    fn handle_ready_for_query(&mut self, message: ReceivedMessage) -> Result<(), Error> {
        self.inner.pending_ready_for_query_count = self
            .inner
            .pending_ready_for_query_count
            .checked_sub(1)
            .ok_or_else(|| err_protocol!("received more ReadyForQuery messages than expected"))?;

        self.ready_for_query(message.decode::<ReadyForQuery>()?.transaction_status)
    }

    /// Records the status a ReadyForQuery reports; the first one after a pipelined
    /// `BEGIN` must show its transaction (open, or failed by a statement inside it).
    /// A `COMMIT` sent with a statement (`commit_with_next`) ended the transaction when
    /// the status is idle (committed, or rolled back by a failing `COMMIT`); otherwise
    /// the statement failed, the server skipped the `COMMIT`, and a rollback follows.
    fn ready_for_query(&mut self, status: TransactionStatus) -> Result<(), Error> {
        let begun = !matches!(status, TransactionStatus::Idle);
        self.inner.transaction_status = status;
        // A `COMMIT` goes behind an unconfirmed `BEGIN` only if that is plain: it opened
        // the transaction the `COMMIT` ended.
        let committed = std::mem::take(&mut self.inner.commit_unconfirmed) && !begun;
        if committed {
            self.inner.transaction_depth = 0;
        }
        if std::mem::take(&mut self.inner.begin_unconfirmed) && !begun && !committed {
            return Err(Error::BeginFailed);
        }
        Ok(())
    }

    /// Queue a simple query (not prepared) to execute the next time this connection is used.
    ///
    /// Used for rolling back transactions and releasing advisory locks.
    #[inline(always)]
    pub(crate) fn queue_simple_query(&mut self, query: &str) -> Result<(), Error> {
        self.inner.stream.write_msg(Query(query))?;
        self.inner.pending_ready_for_query_count += 1;

        Ok(())
    }

    pub(crate) fn in_transaction(&self) -> bool {
        match self.inner.transaction_status {
            TransactionStatus::Transaction => true,
            TransactionStatus::Error | TransactionStatus::Idle => false,
        }
    }
}

/// Whether a custom `BEGIN` is `BEGIN …` followed by `SET …` parts only: nothing in it
/// can end the transaction it opens.
fn is_plain_begin(statement: &str) -> bool {
    let starts = |part: &str, word: &str| {
        part.get(..word.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(word))
    };
    let mut parts = statement
        .split(';')
        .map(str::trim)
        .filter(|part| !part.is_empty());
    parts
        .next()
        .is_some_and(|first| starts(first, "BEGIN"))
        && parts.all(|part| starts(part, "SET "))
}

impl Debug for PgConnection {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConnection").finish()
    }
}

impl Connection for PgConnection {
    type Database = Postgres;

    type Options = PgConnectOptions;

    fn close(mut self) -> BoxFuture<'static, Result<(), Error>> {
        // The normal, graceful termination procedure is that the frontend sends a Terminate
        // message and immediately closes the connection.

        // On receipt of this message, the backend closes the
        // connection and terminates.

        Box::pin(async move {
            self.inner.stream.send(Terminate).await?;
            self.inner.stream.shutdown().await?;

            Ok(())
        })
    }

    fn close_hard(mut self) -> BoxFuture<'static, Result<(), Error>> {
        Box::pin(async move {
            self.inner.stream.shutdown().await?;

            Ok(())
        })
    }

    fn ping(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        // Users were complaining about this showing up in query statistics on the server.
        // By sending a comment we avoid an error if the connection was in the middle of a rowset
        // self.execute("/* SQLx ping */").map_ok(|_| ()).boxed()

        Box::pin(async move {
            // `skip_idle_ping`: nothing to flush and nothing to drain.
            if self.inner.skip_idle_ping
                && self.inner.pending_ready_for_query_count == 0
                && self.inner.stream.write_buffer_mut().is_empty()
                && matches!(self.inner.transaction_status, TransactionStatus::Idle)
            {
                return Ok(());
            }

            // The simplest call-and-response that's possible.
            self.write_sync();
            self.wait_until_ready().await
        })
    }

    fn begin(&mut self) -> BoxFuture<'_, Result<Transaction<'_, Self::Database>, Error>>
    where
        Self: Sized,
    {
        Transaction::begin(self, None)
    }

    fn begin_with(
        &mut self,
        statement: impl Into<Cow<'static, str>>,
    ) -> BoxFuture<'_, Result<Transaction<'_, Self::Database>, Error>>
    where
        Self: Sized,
    {
        Transaction::begin(self, Some(statement.into()))
    }

    fn cached_statements_size(&self) -> usize {
        self.inner.cache_statement.len()
    }

    fn clear_cached_statements(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move {
            self.inner.cache_type_oid.clear();

            let mut cleared = 0_usize;

            self.wait_until_ready().await?;

            while let Some((id, _)) = self.inner.cache_statement.remove_lru() {
                self.inner.stream.write_msg(Close::Statement(id))?;
                cleared += 1;
            }

            if cleared > 0 {
                self.write_sync();
                self.inner.stream.flush().await?;

                self.wait_for_close_complete(cleared).await?;
                self.recv_ready_for_query().await?;
            }

            Ok(())
        })
    }

    fn shrink_buffers(&mut self) {
        self.inner.stream.shrink_buffers();
    }

    #[doc(hidden)]
    fn flush(&mut self) -> BoxFuture<'_, Result<(), Error>> {
        self.wait_until_ready().boxed()
    }

    #[doc(hidden)]
    fn should_flush(&self) -> bool {
        !self.inner.stream.write_buffer().is_empty()
    }
}

// Implement `AsMut<Self>` so that `PgConnection` can be wrapped in
// a `PgAdvisoryLockGuard`.
//
// See: https://github.com/launchbadge/sqlx/issues/2520
impl AsMut<PgConnection> for PgConnection {
    fn as_mut(&mut self) -> &mut PgConnection {
        self
    }
}
