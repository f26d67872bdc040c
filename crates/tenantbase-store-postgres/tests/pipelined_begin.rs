//! A transaction's custom `BEGIN` travels with its first statement
//! (`PgConnectOptions::pipeline_begin`, vendor/README.md): one round trip fewer, with
//! the same transaction, setting and errors as when it is waited for, and a statement
//! behind a `BEGIN` that failed never runs. A transaction's `COMMIT` travels with its
//! last statement (`PgConnection::commit_with_next`), and is skipped if that fails. A
//! connection with nothing outstanding is taken back by the pool without a round trip
//! (`PgConnectOptions::skip_idle_ping`).

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const BEGIN: &str = "BEGIN READ ONLY; SELECT set_config('app.probe', 'org-a', true)";

/// Counts a connection's round trips: each time the client speaks after the server did.
#[derive(Default)]
struct Turns {
    count: AtomicUsize,
    server_spoke: AtomicBool,
}

impl Turns {
    /// Starts counting afresh; the client's next message opens a round trip.
    fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.server_spoke.store(true, Ordering::SeqCst);
    }

    fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// A loopback proxy in front of the test server for one connection, counting its turns.
async fn counting_proxy(server: (String, u16)) -> (u16, Arc<Turns>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let turns = Arc::new(Turns::default());
    let counted = turns.clone();
    tokio::spawn(async move {
        let (client, _) = listener.accept().await.expect("accept");
        let upstream = TcpStream::connect(server).await.expect("the test server");
        let (mut client_rx, mut client_tx) = client.into_split();
        let (mut server_rx, mut server_tx) = upstream.into_split();
        let upward = counted.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            while let Ok(n @ 1..) = client_rx.read(&mut buf).await {
                if upward.server_spoke.swap(false, Ordering::SeqCst) {
                    upward.count.fetch_add(1, Ordering::SeqCst);
                }
                if server_tx.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n @ 1..) = server_rx.read(&mut buf).await {
            counted.server_spoke.store(true, Ordering::SeqCst);
            if client_tx.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    (port, turns)
}

/// A connection through a counting proxy, with the options `set` asks for.
async fn connect(
    set: impl FnOnce(PgConnectOptions) -> PgConnectOptions,
) -> (PgConnection, Arc<Turns>, tenantbase_testkit::TestDatabase) {
    let db = tenantbase_testkit::fresh_database().await;
    let options = PgConnectOptions::from_str(&db.url).expect("test URL");
    let (port, turns) = counting_proxy((options.get_host().to_owned(), options.get_port())).await;
    let conn = PgConnection::connect_with(&set(options.host("127.0.0.1").port(port)))
        .await
        .expect("connect through the proxy");
    (conn, turns, db)
}

const READ: &str = "SELECT current_setting('app.probe', true) || $1";

/// Runs one read-only transaction (the statement already prepared) and counts its turns.
async fn read_turns(pipelined: bool) -> usize {
    let (mut conn, turns, _db) = connect(|o| o.pipeline_begin(pipelined)).await;
    let _: Option<String> = sqlx::query_scalar(READ)
        .bind("")
        .fetch_one(&mut conn)
        .await
        .expect("prepare the read");
    turns.reset();
    let mut tx = conn.begin_with(BEGIN).await.expect("begin");
    let read: String = sqlx::query_scalar(READ)
        .bind("/read")
        .fetch_one(&mut *tx)
        .await
        .expect("read");
    assert_eq!(read, "org-a/read", "the statement ran after the setting");
    tx.rollback().await.expect("rollback");
    turns.count()
}

#[tokio::test]
async fn a_read_only_begin_is_sent_with_the_first_statement() {
    assert_eq!(
        read_turns(false).await,
        3,
        "begin, read, rollback waited for"
    );
    assert_eq!(
        read_turns(true).await,
        2,
        "begin and read in one round trip"
    );
}

#[tokio::test]
async fn the_transaction_is_the_same_read_only_one_and_its_setting_ends_with_it() {
    let (mut conn, _turns, _db) = connect(|o| o.pipeline_begin(true)).await;
    let mut tx = conn.begin_with(BEGIN).await.expect("begin");
    let refused = tx
        .execute("CREATE TABLE written (id int)")
        .await
        .expect_err("a read-only transaction");
    assert_eq!(code(&refused).as_deref(), Some("25006"), "{refused}");
    tx.rollback().await.expect("rollback");
    let after: Option<String> = sqlx::query_scalar("SELECT current_setting('app.probe', true)")
        .fetch_one(&mut conn)
        .await
        .expect("read after");
    assert_eq!(after.as_deref().unwrap_or(""), "", "the setting was local");
}

/// The SQLSTATE of a database error.
fn code(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|e| e.code())
        .map(|code| code.into_owned())
}

/// The connection answers a plain statement and is outside any transaction (which also
/// reads whatever a dropped transaction left queued, as the pool's release does).
async fn assert_usable(conn: &mut PgConnection) {
    let next: i32 = sqlx::query_scalar("SELECT 9")
        .fetch_one(&mut *conn)
        .await
        .expect("the connection is usable");
    assert_eq!(next, 9);
    assert!(!conn.is_in_transaction());
}

#[tokio::test]
async fn a_failing_begin_fails_its_first_statement_and_leaves_the_connection_usable() {
    let (mut conn, _turns, _db) = connect(|o| o.pipeline_begin(true)).await;
    {
        let mut tx = conn
            .begin_with("BEGIN READ ONLY; SELECT 1 / 0")
            .await
            .expect("queued, not yet answered");
        let failed = sqlx::query_scalar::<_, i32>("SELECT 7")
            .fetch_one(&mut *tx)
            .await
            .expect_err("the begin's error, not the statement's row");
        assert_eq!(code(&failed).as_deref(), Some("22012"), "{failed}");
    }
    assert_usable(&mut conn).await;
    {
        // A custom begin that leaves no transaction open: its statement must not
        // pass as part of one.
        let mut tx = conn
            .begin_with("BEGIN READ ONLY; COMMIT")
            .await
            .expect("queued");
        let failed = sqlx::query_scalar::<_, i32>("SELECT 8")
            .fetch_one(&mut *tx)
            .await
            .expect_err("no transaction was begun");
        assert!(matches!(failed, sqlx::Error::BeginFailed), "{failed}");
    }
    assert_usable(&mut conn).await;
}

/// The round trips of the pool's release ping after a committed transaction.
async fn ping_turns_after_commit(skip_idle_ping: bool) -> usize {
    let (mut conn, turns, _db) = connect(|o| o.skip_idle_ping(skip_idle_ping)).await;
    let mut tx = conn.begin().await.expect("begin");
    tx.execute("CREATE TEMP TABLE t (id int)")
        .await
        .expect("write");
    tx.commit().await.expect("commit");
    turns.reset();
    conn.ping().await.expect("ping");
    turns.count()
}

#[tokio::test]
async fn a_connection_with_nothing_outstanding_is_pinged_without_a_round_trip() {
    assert_eq!(ping_turns_after_commit(false).await, 1, "sqlx's own ping");
    assert_eq!(
        ping_turns_after_commit(true).await,
        0,
        "nothing to flush or drain"
    );
}

#[tokio::test]
async fn a_dropped_transaction_is_still_rolled_back_by_the_ping() {
    let (mut conn, turns, _db) = connect(|o| o.skip_idle_ping(true)).await;
    {
        let mut tx = conn.begin().await.expect("begin");
        tx.execute("CREATE TEMP TABLE t (id int)")
            .await
            .expect("write");
    }
    turns.reset();
    conn.ping().await.expect("ping");
    assert_eq!(turns.count(), 1, "the queued rollback flushed and answered");
    assert!(!conn.is_in_transaction());
    let rolled_back: Option<String> = sqlx::query_scalar("SELECT to_regclass('pg_temp.t')::text")
        .fetch_one(&mut conn)
        .await
        .expect("look");
    assert_eq!(rolled_back, None, "the table went with the rollback");
}

const INSERT: &str = "INSERT INTO written (id) VALUES ($1)";

/// A connection through a counting proxy to a database with a table `written`, whose
/// insert is prepared (as the store's statements are once used).
async fn connect_to_write(
    pipelined: bool,
) -> (PgConnection, Arc<Turns>, tenantbase_testkit::TestDatabase) {
    let (mut conn, turns, db) = connect(|o| o.pipeline_begin(pipelined)).await;
    conn.execute("CREATE TABLE written (id int)")
        .await
        .expect("table");
    conn.prepare(INSERT).await.expect("prepare the insert");
    (conn, turns, db)
}

/// Inserts a row of `written` (through the prepared insert).
async fn insert(conn: &mut PgConnection) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    sqlx::query(INSERT).bind(1).execute(conn).await
}

/// The connection is usable and `written` holds no row: the insert tried was skipped by
/// the server, not run outside a transaction.
async fn assert_nothing_written(conn: &mut PgConnection) {
    assert_usable(conn).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM written")
        .fetch_one(conn)
        .await
        .expect("count");
    assert_eq!(rows, 0, "skipped by the server");
}

async fn write_turns(pipelined: bool) -> usize {
    let (mut conn, turns, _db) = connect_to_write(pipelined).await;
    turns.reset();
    let mut tx = conn
        .begin_with("BEGIN; SET LOCAL app.probe = 'org-a'")
        .await
        .expect("begin");
    insert(&mut tx).await.expect("insert");
    tx.commit().await.expect("commit");
    turns.count()
}

#[tokio::test]
async fn a_writing_transactions_begin_is_sent_with_its_first_statement() {
    assert_eq!(write_turns(false).await, 3, "begin, insert, commit");
    assert_eq!(write_turns(true).await, 2, "begin and insert in one");
}

#[tokio::test]
async fn a_write_behind_a_failing_begin_never_runs() {
    let (mut conn, turns, _db) = connect_to_write(true).await;
    {
        let mut tx = conn
            .begin_with("BEGIN; SELECT 1 / 0")
            .await
            .expect("queued, not yet answered");
        turns.reset();
        let failed = insert(&mut tx).await.expect_err("the begin's error");
        assert_eq!(code(&failed).as_deref(), Some("22012"), "{failed}");
        assert_eq!(turns.count(), 1, "the insert went out with the begin");
    }
    assert_nothing_written(&mut conn).await;
}

#[tokio::test]
async fn a_statement_queued_mid_transaction_goes_with_the_next_one() {
    let (mut conn, turns, _db) = connect_to_write(true).await;
    conn.prepare(READ).await.expect("prepare the read");
    turns.reset();
    let mut tx = conn
        .begin_with("BEGIN; SET LOCAL app.probe = 'a'")
        .await
        .expect("begin");
    insert(&mut tx).await.expect("insert");
    tx.queue_before_next("SET LOCAL app.probe = 'b'")
        .await
        .expect("queued");
    let read: String = sqlx::query_scalar(READ)
        .bind("/read")
        .fetch_one(&mut *tx)
        .await
        .expect("read");
    assert_eq!(read, "b/read", "the queued statement ran first");
    tx.commit().await.expect("commit");
    assert_eq!(
        turns.count(),
        3,
        "begin and insert, setting and read, commit"
    );
}

#[tokio::test]
async fn a_statement_behind_a_failing_queued_one_never_runs() {
    let (mut conn, _turns, _db) = connect_to_write(true).await;
    {
        let mut tx = conn.begin_with("BEGIN").await.expect("begin");
        tx.queue_before_next("SET LOCAL statement_timeout = 'soon'")
            .await
            .expect("queued");
        let failed = insert(&mut tx)
            .await
            .expect_err("the queued statement's error");
        assert_eq!(code(&failed).as_deref(), Some("22023"), "{failed}");
    }
    assert_nothing_written(&mut conn).await;
}

const PREFIX: &str = "SELECT set_config('app.probe', $1, true)";

#[tokio::test]
async fn a_prefixed_statement_runs_with_its_setting_in_one_round_trip() {
    let (mut conn, turns, _db) = connect(|o| o).await;
    conn.prepare(READ).await.expect("prepare the read");
    conn.set_statement_prefix(Some((PREFIX, "org-a".to_owned())));
    // The prefix is prepared on first use; count from the second.
    let _: String = sqlx::query_scalar(READ)
        .bind("")
        .fetch_one(&mut conn)
        .await
        .expect("first");
    turns.reset();
    let read: String = sqlx::query_scalar(READ)
        .bind("/read")
        .fetch_one(&mut conn)
        .await
        .expect("read");
    assert_eq!(read, "org-a/read", "the statement ran after its setting");
    assert_eq!(turns.count(), 1, "setting and statement in one round trip");
    assert!(!conn.is_in_transaction(), "no transaction left open");
    conn.set_statement_prefix(None);
    let after: String = sqlx::query_scalar(READ)
        .bind("/after")
        .fetch_one(&mut conn)
        .await
        .expect("read after");
    assert_eq!(after, "/after", "the setting held for its statement alone");
}

#[tokio::test]
async fn a_statement_behind_a_failing_prefix_never_runs() {
    let (mut conn, _turns, _db) = connect_to_write(false).await;
    conn.set_statement_prefix(Some((
        "SELECT set_config('app.probe', $1, true)::int",
        "not a number".to_owned(),
    )));
    let failed = insert(&mut conn).await.expect_err("the prefix's error");
    assert_eq!(code(&failed).as_deref(), Some("22P02"), "{failed}");
    let refused = conn
        .execute("SELECT 1")
        .await
        .expect_err("a simple query cannot carry the prefix");
    assert!(matches!(refused, sqlx::Error::Protocol(_)), "{refused}");
    conn.set_statement_prefix(None);
    assert_nothing_written(&mut conn).await;
}

/// How many rows `written` holds.
async fn written_rows(conn: &mut PgConnection) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM written")
        .fetch_one(conn)
        .await
        .expect("count")
}

/// A write transaction of two inserts, the second carrying the `COMMIT` when `with_next`;
/// its round trips.
async fn commit_turns(with_next: bool) -> usize {
    let (mut conn, turns, _db) = connect_to_write(true).await;
    turns.reset();
    let mut tx = conn.begin_with("BEGIN").await.expect("begin");
    insert(&mut tx).await.expect("first insert");
    if with_next {
        tx.commit_with_next();
    }
    insert(&mut tx).await.expect("insert and commit");
    assert_eq!(tx.is_in_transaction(), !with_next);
    tx.commit().await.expect("commit");
    let count = turns.count();
    assert_eq!(written_rows(&mut conn).await, 2, "both rows committed");
    count
}

#[tokio::test]
async fn a_commit_goes_with_the_statement_before_it() {
    assert_eq!(
        commit_turns(false).await,
        3,
        "begin and insert, insert, commit"
    );
    assert_eq!(
        commit_turns(true).await,
        2,
        "the commit went with the insert"
    );
}

#[tokio::test]
async fn a_commit_behind_a_failing_statement_is_skipped() {
    let (mut conn, _turns, _db) = connect_to_write(true).await;
    {
        let mut tx = conn.begin_with("BEGIN").await.expect("begin");
        insert(&mut tx).await.expect("insert");
        tx.commit_with_next();
        let failed = sqlx::query_scalar::<_, i32>("SELECT 1 / $1")
            .bind(0)
            .fetch_one(&mut *tx)
            .await
            .expect_err("division by zero");
        assert_eq!(code(&failed).as_deref(), Some("22012"), "{failed}");
    }
    assert_nothing_written(&mut conn).await;
}

#[tokio::test]
async fn a_failing_commit_fails_the_statement_it_went_with() {
    let (mut conn, _turns, _db) = connect_to_write(true).await;
    conn.execute(
        "CREATE TABLE parent (id int PRIMARY KEY); \
         CREATE TABLE child (parent int REFERENCES parent DEFERRABLE INITIALLY DEFERRED)",
    )
    .await
    .expect("tables");
    {
        let mut tx = conn.begin_with("BEGIN").await.expect("begin");
        insert(&mut tx).await.expect("insert");
        tx.commit_with_next();
        let failed = sqlx::query("INSERT INTO child (parent) VALUES ($1)")
            .bind(5)
            .execute(&mut *tx)
            .await
            .expect_err("the deferred check fails the commit");
        assert_eq!(code(&failed).as_deref(), Some("23503"), "{failed}");
    }
    assert_nothing_written(&mut conn).await;
    let children: i64 = sqlx::query_scalar("SELECT count(*) FROM child")
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(children, 0);
}

#[tokio::test]
async fn no_commit_goes_with_a_statement_behind_an_unconfirmed_begin_that_is_not_plain() {
    let (mut conn, _turns, _db) = connect_to_write(true).await;
    // A part other than `SET` might end the transaction the `BEGIN` opened, and a
    // ReadyForQuery showing none would not tell that from the commit.
    let mut tx = conn.begin_with("BEGIN; SELECT 1").await.expect("begin");
    tx.commit_with_next();
    insert(&mut tx).await.expect("insert");
    assert!(
        tx.is_in_transaction(),
        "the insert went with the begin alone"
    );
    tx.rollback().await.expect("rollback");
    assert_nothing_written(&mut conn).await;
}

/// A plain `BEGIN` (`BEGIN` and `SET` parts), a deferred insert and an insert carrying
/// the `COMMIT`: the store's create. Its round trips.
async fn deferred_create_turns(deferred: bool) -> usize {
    let (mut conn, turns, _db) = connect_to_write(true).await;
    turns.reset();
    let mut tx = conn
        .begin_with("BEGIN; SET LOCAL app.probe = 'a'")
        .await
        .expect("begin");
    if deferred {
        tx.defer_next();
    }
    let queued = insert(&mut tx).await.expect("first insert");
    assert_eq!(queued.rows_affected(), u64::from(!deferred));
    tx.commit_with_next();
    insert(&mut tx).await.expect("insert and commit");
    assert!(!tx.is_in_transaction(), "committed with the second insert");
    tx.commit().await.expect("nothing left to commit");
    let count = turns.count();
    assert_eq!(written_rows(&mut conn).await, 2, "both rows committed");
    count
}

#[tokio::test]
async fn a_deferred_statement_goes_with_the_next_one_and_its_commit() {
    assert_eq!(
        deferred_create_turns(false).await,
        2,
        "begin and insert, insert and commit"
    );
    assert_eq!(
        deferred_create_turns(true).await,
        1,
        "begin, both inserts and the commit in one round trip"
    );
}

#[tokio::test]
async fn a_failing_deferred_statement_fails_the_next_one_and_nothing_is_committed() {
    let (mut conn, _turns, _db) = connect_to_write(true).await;
    conn.execute("ALTER TABLE written ADD PRIMARY KEY (id); INSERT INTO written VALUES (1)")
        .await
        .expect("a row the insert collides with");
    {
        let mut tx = conn
            .begin_with("BEGIN; SET LOCAL app.probe = 'a'")
            .await
            .expect("begin");
        tx.defer_next();
        insert(&mut tx).await.expect("queued, not yet answered");
        tx.commit_with_next();
        let failed = sqlx::query("INSERT INTO written (id) VALUES ($1)")
            .bind(2)
            .execute(&mut *tx)
            .await
            .expect_err("the deferred insert's error");
        assert_eq!(code(&failed).as_deref(), Some("23505"), "{failed}");
        assert!(tx.is_in_transaction(), "the commit was skipped");
    }
    assert_usable(&mut conn).await;
    assert_eq!(written_rows(&mut conn).await, 1, "neither insert committed");
}

#[tokio::test]
async fn a_dropped_transaction_rolls_back_its_deferred_statement() {
    let (mut conn, _turns, _db) = connect_to_write(true).await;
    {
        let mut tx = conn.begin_with("BEGIN").await.expect("begin");
        insert(&mut tx).await.expect("insert");
        tx.defer_next();
        insert(&mut tx).await.expect("queued");
    }
    assert_nothing_written(&mut conn).await;
}

#[tokio::test]
async fn an_unused_commit_with_next_ends_with_its_transaction() {
    let (mut conn, _turns, _db) = connect_to_write(true).await;
    let mut tx = conn.begin_with("BEGIN").await.expect("begin");
    insert(&mut tx).await.expect("insert");
    tx.commit_with_next();
    tx.commit().await.expect("commit on its own");
    let mut tx = conn.begin_with("BEGIN").await.expect("begin");
    insert(&mut tx).await.expect("first insert");
    insert(&mut tx)
        .await
        .expect("second insert, without a commit");
    assert!(tx.is_in_transaction());
    tx.rollback().await.expect("rollback");
    assert_eq!(
        written_rows(&mut conn).await,
        1,
        "the first transaction's row only"
    );
}

#[tokio::test]
async fn an_unused_defer_next_ends_with_its_transaction() {
    let (mut conn, _turns, _db) = connect_to_write(true).await;
    {
        let mut tx = conn.begin_with("BEGIN").await.expect("begin");
        insert(&mut tx).await.expect("insert");
        // Its statement never runs (say its arguments failed to encode).
        tx.defer_next();
    }
    let mut tx = conn.begin_with("BEGIN").await.expect("begin");
    let rows = insert(&mut tx).await.expect("insert");
    assert_eq!(rows.rows_affected(), 1, "run, not deferred");
    tx.commit().await.expect("commit");
    assert_eq!(
        written_rows(&mut conn).await,
        1,
        "the second transaction's row only"
    );
}
