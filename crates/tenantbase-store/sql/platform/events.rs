//! The event log's statements: appending to a chain (also for org units, which write
//! their events through `append_event`), reading pages of it, truncating it after
//! archival, and the chains' heads.

use async_trait::async_trait;
use tenantbase_domain::model::{ChainHead, ChainKey, Event, GENESIS_HASH};
use tenantbase_store::StoreError;
use tenantbase_store::StoreResult;
use tenantbase_store::platform::EventsUnit;
use tenantbase_store::platform::events::{ChainHeadRow, EVENT_COLUMNS, EventRow, NewEvent, seal};

use super::PlatformTx;
use crate::dialect::{self, Db};
use crate::sql::Conn;

#[async_trait]
impl EventsUnit for PlatformTx {
    async fn append_event(&mut self, event: NewEvent) -> StoreResult<Event> {
        enter_platform_scope(&mut self.tx).await?;
        append_event(&mut self.tx, event).await
    }

    async fn truncate_chain(
        &mut self,
        chain: &str,
        through_seq: i64,
        through_hash: &str,
    ) -> StoreResult<u64> {
        enter_platform_scope(&mut self.tx).await?;
        truncate_chain(&mut self.tx, chain, through_seq, through_hash).await
    }
}

/// Opens the event log's platform scope for the rest of this transaction: on
/// PostgreSQL, row-level security on `events` admits every chain to it
/// (migration 0008). Only the cross-org paths of the event log call it: a
/// platform unit's append and truncation, and `events_after`. Org units never
/// do, so they reach their own org's events only.
async fn enter_platform_scope(conn: &mut Conn) -> StoreResult<()> {
    if let Some(enter) = dialect::ENTER_PLATFORM_SCOPE {
        sqlx::query(enter).execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn append_event(conn: &mut Conn, new: NewEvent) -> StoreResult<Event> {
    let chain = ChainKey::for_org(new.org_id).as_string();
    // Taking the next number locks the chain's row until commit, so appends
    // to one chain queue up behind each other and never fork it.
    let heads: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO audit_chains (chain, head_seq, head_hash, anchor_seq, anchor_hash) \
         VALUES ($1, 1, $2, 0, $2) \
         ON CONFLICT (chain) DO UPDATE SET head_seq = audit_chains.head_seq + 1 \
         RETURNING head_seq, head_hash",
    )
    .bind(&chain)
    .bind(GENESIS_HASH)
    .fetch_all(&mut *conn)
    .await?;
    let (seq, prev_hash) = heads.into_iter().next().ok_or(StoreError::NotFound)?;
    let event = seal(new, chain, seq, prev_hash);
    sqlx::query(&format!(
        "INSERT INTO events ({}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        EVENT_COLUMNS
    ))
    .bind(event.id.as_uuid())
    .bind(&event.chain)
    .bind(event.seq)
    .bind(event.org_id.map(|org| org.as_uuid()))
    .bind(&event.event_type)
    .bind(&event.actor_kind)
    .bind(&event.actor_id)
    .bind(&event.target_kind)
    .bind(&event.target_id)
    .bind(&event.ip)
    .bind(&event.user_agent)
    .bind(&event.request_id)
    .bind(&event.payload)
    .bind(event.occurred_at)
    .bind(&event.prev_hash)
    .bind(&event.hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_chains SET head_hash = $2 WHERE chain = $1")
        .bind(&event.chain)
        .bind(&event.hash)
        .execute(&mut *conn)
        .await?;
    Ok(event)
}

/// A page of any chain, for verification, export and archival: in the
/// platform scope, which on PostgreSQL takes a read-only transaction (opened
/// with the setting in the same round trip).
pub(crate) async fn events_after(
    pool: &sqlx::Pool<Db>,
    chain: &str,
    after_seq: i64,
    limit: u32,
) -> StoreResult<Vec<Event>> {
    let sql = format!(
        "SELECT {} FROM events WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        EVENT_COLUMNS
    );
    let page = || {
        sqlx::query_as::<_, EventRow>(&sql)
            .bind(chain)
            .bind(after_seq)
            .bind(i64::from(limit))
    };
    let rows = match dialect::ENTER_PLATFORM_SCOPE {
        None => page().fetch_all(pool).await?,
        Some(enter) => {
            let mut tx = pool.begin_with(format!("BEGIN READ ONLY; {enter}")).await?;
            let rows = page().fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows
        }
    };
    Ok(rows.into_iter().map(Event::from).collect())
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

pub(crate) async fn truncate_chain(
    conn: &mut Conn,
    chain: &str,
    through_seq: i64,
    through_hash: &str,
) -> StoreResult<u64> {
    let deleted = sqlx::query("DELETE FROM events WHERE chain = $1 AND seq <= $2")
        .bind(chain)
        .bind(through_seq)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    sqlx::query(
        "UPDATE audit_chains SET anchor_seq = $2, anchor_hash = $3 \
         WHERE chain = $1 AND anchor_seq < $2",
    )
    .bind(chain)
    .bind(through_seq)
    .bind(through_hash)
    .execute(&mut *conn)
    .await?;
    Ok(deleted)
}
