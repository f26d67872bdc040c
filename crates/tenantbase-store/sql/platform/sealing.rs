//! Sealing: linking a chain's recorded events into it, in recording order, after its
//! head. Only the sealer takes the chain's head, so writers never wait on it (ADR 0004).

use sqlx::QueryBuilder;
use tenantbase_domain::model::{Event, GENESIS_HASH};
use tenantbase_store::platform::events::{PendingEvent, PendingRow, RECORDED_COLUMNS};
use tenantbase_store::{StoreError, StoreResult};

use super::events::push_recorded;
use crate::dialect::Db;
use crate::sql::Conn;

/// Seals up to `limit` recorded events of `chain` and returns them. The caller's
/// transaction must be in the platform scope; the chain's head stays locked until it ends.
pub(crate) async fn seal_chain(
    conn: &mut Conn,
    chain: &str,
    limit: u32,
) -> StoreResult<Vec<Event>> {
    let (mut seq, mut prev_hash) = lock_head(conn, chain).await?;
    // Read after the head is ours: a sealer that held it before has committed, so what
    // it sealed is gone from here.
    let pending: Vec<PendingRow> = sqlx::query_as(&format!(
        "SELECT pending_no, {RECORDED_COLUMNS} FROM pending_events \
         WHERE chain = $1 ORDER BY pending_no LIMIT $2"
    ))
    .bind(chain)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let numbers: Vec<i64> = pending.iter().map(|row| row.pending_no).collect();
    let recorded: Vec<PendingEvent> = pending
        .into_iter()
        .map(|row| PendingEvent::from(row.recorded))
        .collect();
    let sealed: Vec<Event> = recorded
        .iter()
        .map(|event| {
            seq += 1;
            let event = event.seal(seq, prev_hash.clone());
            prev_hash.clone_from(&event.hash);
            event
        })
        .collect();
    // A full batch, what a busy chain seals every time, keeps its two statements prepared;
    // the text of a smaller one varies with its size, so it is not kept.
    let full = numbers.len() == limit as usize;
    insert_sealed(conn, &recorded, &sealed, full).await?;
    // By number, not by "up to the last": on PostgreSQL a lower number can commit later
    // than a higher one, and that event has not been sealed yet.
    // The chain too: on PostgreSQL (chain, pending_no) is the table's one index.
    let mut delete = QueryBuilder::<Db>::new("DELETE FROM pending_events WHERE chain = ");
    delete.push_bind(chain).push(" AND pending_no IN (");
    let mut list = delete.separated(", ");
    for number in &numbers {
        list.push_bind(*number);
    }
    delete.push(")");
    let deleted = delete
        .build()
        .persistent(full)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if deleted != numbers.len() as u64 {
        return Err(StoreError::Invalid(format!(
            "chain {chain}: sealed {} events but {deleted} were still pending",
            numbers.len()
        )));
    }
    sqlx::query("UPDATE audit_chains SET head_seq = $2, head_hash = $3 WHERE chain = $1")
        .bind(chain)
        .bind(seq)
        .bind(&prev_hash)
        .execute(&mut *conn)
        .await?;
    Ok(sealed)
}

/// The chain's head (created at the genesis for a new chain), locked until commit: the
/// no-op update takes PostgreSQL's row lock; SQLite has one writer anyway.
async fn lock_head(conn: &mut Conn, chain: &str) -> StoreResult<(i64, String)> {
    let heads: Vec<(i64, String)> = sqlx::query_as(
        "INSERT INTO audit_chains (chain, head_seq, head_hash, anchor_seq, anchor_hash) \
         VALUES ($1, 0, $2, 0, $2) \
         ON CONFLICT (chain) DO UPDATE SET head_seq = audit_chains.head_seq \
         RETURNING head_seq, head_hash",
    )
    .bind(chain)
    .bind(GENESIS_HASH)
    .fetch_all(&mut *conn)
    .await?;
    heads.into_iter().next().ok_or(StoreError::NotFound)
}

async fn insert_sealed(
    conn: &mut Conn,
    recorded: &[PendingEvent],
    sealed: &[Event],
    prepared: bool,
) -> StoreResult<()> {
    let mut insert = QueryBuilder::<Db>::new(format!(
        "INSERT INTO events ({RECORDED_COLUMNS}, seq, prev_hash, hash) "
    ));
    insert.push_values(recorded.iter().zip(sealed), |mut row, (recorded, event)| {
        push_recorded(&mut row, recorded);
        row.push_bind(event.seq)
            .push_bind(event.prev_hash.clone())
            .push_bind(event.hash.clone());
    });
    insert
        .build()
        .persistent(prepared)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
