//! The event log's statements: recording an event for the sealer (also for org units,
//! which write their events through `append_event`), reading pages of a chain,
//! truncating it after archival, the chains' heads and what awaits sealing.

use async_trait::async_trait;
use sqlx::QueryBuilder;
use sqlx::query_builder::Separated;
use tenantbase_domain::EventId;
use tenantbase_domain::model::{ChainHead, Event};
use tenantbase_store::platform::EventsUnit;
use tenantbase_store::platform::events::{
    ChainHeadRow, EVENT_COLUMNS, EventRow, NewEvent, PendingEvent, RECORDED_COLUMNS, UnsealedChain,
    UnsealedRow,
};
use tenantbase_store::{StoreResult, transactions};

use super::PlatformTx;
use crate::dialect::{self, Db};
use crate::sql::Conn;

#[async_trait]
impl EventsUnit for PlatformTx {
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<EventId> {
        enter_platform_scope(&mut self.tx).await?;
        append_event(&mut self.tx, event).await
    }

    async fn seal_chain(&mut self, chain: &str, limit: u32) -> StoreResult<Vec<Event>> {
        enter_platform_scope(&mut self.tx).await?;
        super::sealing::seal_chain(&mut self.tx, chain, limit).await
    }

    async fn truncate_chain(
        &mut self,
        chain: &str,
        from_seq: i64,
        through_seq: i64,
        through_hash: &str,
    ) -> StoreResult<Option<u64>> {
        enter_platform_scope(&mut self.tx).await?;
        truncate_chain(&mut self.tx, chain, from_seq, through_seq, through_hash).await
    }
}

/// Opens the event log's platform scope for the rest of this transaction: on
/// PostgreSQL, row-level security on `events` admits every chain to it
/// (migration 0008), and to the deletion of every org's expired invitations (0025).
/// Only the cross-org paths of the event log call it — a platform unit's append,
/// sealing and truncation, `events_after`, `headless_chains` and `unsealed_chains` —
/// and `auth.cleanup`'s deletion of invitations. Org units never do, so they reach
/// their own org's rows only.
pub(crate) async fn enter_platform_scope(conn: &mut Conn) -> StoreResult<()> {
    dialect::enter_platform_scope(conn).await
}

/// Records `new` for the sealer: one plain insert, no lock on the chain's head.
pub(crate) async fn append_event(conn: &mut Conn, new: NewEvent) -> StoreResult<EventId> {
    let event = PendingEvent::record(new);
    let id = event.id;
    insert_pending(conn, &[event], false).await?;
    Ok(id)
}

/// Records `events` for the sealer in one multi-row insert — their order is kept (the
/// sealer links them in `pending_no` order, which the rows take in turn) — and commits
/// `tx`: on PostgreSQL the `COMMIT` goes with the last insert (the vendored sqlx-postgres's `commit_with_next`), one round trip fewer per
/// change; if the insert fails, the server skips it and `tx` rolls back when dropped.
pub(crate) async fn append_events_and_commit(
    mut tx: dialect::WriteTx,
    events: Vec<NewEvent>,
) -> StoreResult<()> {
    let events: Vec<PendingEvent> = events.into_iter().map(PendingEvent::record).collect();
    insert_pending(&mut tx, &events, true).await?;
    tx.commit().await?;
    Ok(())
}

/// Inserts `events`, in order; with `commit_with_last`, the last insert carries the
/// transaction's `COMMIT` where the backend can send it so.
async fn insert_pending(
    conn: &mut Conn,
    events: &[PendingEvent],
    commit_with_last: bool,
) -> StoreResult<()> {
    // Well under both backends' bound parameters per statement (SQLite 32,766).
    let chunks = events.chunks(MAX_ROWS_PER_INSERT);
    let last = chunks.len().saturating_sub(1);
    for (index, rows) in chunks.enumerate() {
        let mut insert =
            QueryBuilder::<Db>::new(format!("INSERT INTO pending_events ({RECORDED_COLUMNS}) "));
        insert.push_values(rows, |mut row, event| push_recorded(&mut row, event));
        if commit_with_last && index == last {
            dialect::commit_with_next(conn);
        }
        insert.build().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Events per insert statement: each binds 13 values.
const MAX_ROWS_PER_INSERT: usize = 500;

/// A page of any chain, for verification, export and archival.
pub(crate) async fn events_after(
    pool: &sqlx::Pool<Db>,
    chain: &str,
    after_seq: i64,
    limit: u32,
) -> StoreResult<Vec<Event>> {
    let mut tx = begin_platform_read(pool).await?;
    let rows: Vec<EventRow> = sqlx::query_as(&format!(
        "SELECT {EVENT_COLUMNS} FROM events WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    ))
    .bind(chain)
    .bind(after_seq)
    .bind(i64::from(limit))
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(Event::from).collect())
}

/// A read across chains: in the platform scope, which on PostgreSQL takes a read-only
/// transaction (opened with the setting in the same round trip). It is opened in a task of
/// its own (ADR 0008): a read dropped while its BEGIN is under way would otherwise hand its
/// connection back inside a transaction sqlx does not know of — on PostgreSQL with the
/// platform scope set, for whichever unit takes the connection next.
async fn begin_platform_read(pool: &sqlx::Pool<Db>) -> StoreResult<sqlx::Transaction<'static, Db>> {
    let begin = dialect::PLATFORM_SCOPE.map(|scope| format!("BEGIN READ ONLY; {scope}").into());
    Ok(transactions::begin_detached(pool, begin).await?)
}

pub(crate) async fn chain_heads<'e, E>(db: E) -> StoreResult<Vec<ChainHead>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<ChainHeadRow> = sqlx::query_as(
        "SELECT chain, head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chains \
         ORDER BY chain",
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(ChainHead::from).collect())
}

pub(crate) async fn headless_chains(pool: &sqlx::Pool<Db>) -> StoreResult<Vec<String>> {
    let mut tx = begin_platform_read(pool).await?;
    let chains: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT chain FROM events WHERE NOT EXISTS \
           (SELECT 1 FROM audit_chains WHERE audit_chains.chain = events.chain) \
         ORDER BY chain",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(chains.into_iter().map(|(chain,)| chain).collect())
}

/// Binds `event`'s recorded columns, in `RECORDED_COLUMNS`' order, as one row of a
/// multi-row insert.
pub(crate) fn push_recorded(row: &mut Separated<'_, '_, Db, &'static str>, event: &PendingEvent) {
    row.push_bind(event.id.as_uuid())
        .push_bind(event.chain.clone())
        .push_bind(event.org_id.map(|org| org.as_uuid()))
        .push_bind(event.event_type.clone())
        .push_bind(event.actor_kind.clone())
        .push_bind(event.actor_id.clone())
        .push_bind(event.target_kind.clone())
        .push_bind(event.target_id.clone())
        .push_bind(event.ip.clone())
        .push_bind(event.user_agent.clone())
        .push_bind(event.request_id.clone())
        .push_bind(event.payload.clone())
        .push_bind(event.occurred_at);
}

/// Per chain, how many events await sealing and since when.
pub(crate) async fn unsealed_chains(pool: &sqlx::Pool<Db>) -> StoreResult<Vec<UnsealedChain>> {
    let mut tx = begin_platform_read(pool).await?;
    let rows: Vec<UnsealedRow> = sqlx::query_as(
        "SELECT chain, count(*) AS count, min(occurred_at) AS oldest \
         FROM pending_events GROUP BY chain ORDER BY chain",
    )
    .fetch_all(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(rows.into_iter().map(UnsealedChain::from).collect())
}

pub(crate) async fn truncate_chain(
    conn: &mut Conn,
    chain: &str,
    from_seq: i64,
    through_seq: i64,
    through_hash: &str,
) -> StoreResult<Option<u64>> {
    // The anchor first: on PostgreSQL a second run waits for the first's commit on the
    // chain's row, then finds the anchor moved.
    let anchored = sqlx::query(
        "UPDATE audit_chains SET anchor_seq = $2, anchor_hash = $3 \
         WHERE chain = $1 AND anchor_seq = $4 AND anchor_seq < $2",
    )
    .bind(chain)
    .bind(through_seq)
    .bind(through_hash)
    .bind(from_seq)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if anchored == 0 {
        return Ok(None);
    }
    let deleted = sqlx::query("DELETE FROM events WHERE chain = $1 AND seq <= $2")
        .bind(chain)
        .bind(through_seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(Some(deleted))
}
