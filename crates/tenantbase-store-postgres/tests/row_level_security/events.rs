//! The wall around the event log: an org's transaction cannot write or read another
//! org's chain, and only the platform scope reaches every chain.

use super::*;

/// The SQLSTATE of a failed statement.
fn sqlstate(result: Result<sqlx::postgres::PgQueryResult, sqlx::Error>) -> Option<String> {
    result
        .err()?
        .as_database_error()?
        .code()
        .map(|code| code.into_owned())
}

#[tokio::test]
async fn an_orgs_transaction_cannot_write_another_orgs_events() {
    let (db, store, a, b) = setup().await;
    let mut conn = runtime_connection(&db.url).await;
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(a.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set org");
    let forged = sqlx::query(
        "INSERT INTO events (id, chain, seq, org_id, event_type, actor_kind, payload, \
         occurred_at, prev_hash, hash) \
         VALUES ($1, $2, 99, $3, 'forged', 'system', '{}', now(), 'x', 'y')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(b.to_string())
    .bind(b.as_uuid())
    .execute(&mut *tx)
    .await;
    assert_eq!(
        sqlstate(forged).as_deref(),
        Some("42501"),
        "an event for org B from org A's transaction violates the policy"
    );
    drop(tx);
    // Nor record one for B.
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(a.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set org");
    let forged = sqlx::query(
        "INSERT INTO pending_events (id, chain, org_id, event_type, actor_kind, payload, \
         occurred_at) VALUES ($1, $2, $3, 'forged', 'system', '{}', now())",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(b.to_string())
    .bind(b.as_uuid())
    .execute(&mut *tx)
    .await;
    assert_eq!(
        sqlstate(forged).as_deref(),
        Some("42501"),
        "a recorded event for org B from org A's transaction violates the policy"
    );
    drop(tx);
    // Nor can it edit or delete B's events: they are not there for it.
    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.org_id', $1, true)")
        .bind(a.as_uuid().to_string())
        .execute(&mut *tx)
        .await
        .expect("set org");
    for table in ["events", "pending_events"] {
        let touched = sqlx::query(&format!("DELETE FROM {table} WHERE org_id = $1"))
            .bind(b.as_uuid())
            .execute(&mut *tx)
            .await
            .expect("delete runs")
            .rows_affected();
        assert_eq!(touched, 0, "org B's {table} are out of reach");
    }
    drop(tx);
    store.close().await;
}

#[tokio::test]
async fn the_platform_scope_reaches_every_chain_and_nothing_else_does() {
    let (db, store, a, b) = setup().await;
    let mut conn = runtime_connection(&db.url).await;
    let count = "SELECT count(*) FROM events WHERE org_id IS NULL";
    let platform: i64 = sqlx::query_scalar(count)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(platform, 0, "no scope: not even the platform chain");

    let mut tx = conn.begin().await.expect("begin");
    sqlx::query("SELECT set_config('app.scope', 'platform', true)")
        .execute(&mut *tx)
        .await
        .expect("set scope");
    let chains: Vec<String> = sqlx::query_scalar("SELECT chain FROM events ORDER BY chain")
        .fetch_all(&mut *tx)
        .await
        .expect("chains");
    let mut expected = vec![a.to_string(), b.to_string(), "platform".to_owned()];
    expected.sort();
    assert_eq!(chains, expected, "the platform scope sees every chain");
    tx.commit().await.expect("commit");
    let after: i64 = sqlx::query_scalar(count)
        .fetch_one(&mut conn)
        .await
        .expect("count");
    assert_eq!(after, 0, "the scope ends with its transaction");

    // The store's cross-org paths (verify, export, archive) work as the runtime role.
    for chain in [a.to_string(), b.to_string(), "platform".to_owned()] {
        let events = store.events_after(&chain, 0, 10).await.expect("page");
        assert_eq!(events.len(), 1, "{chain}");
    }
    let mut unit = store.begin().await.expect("unit");
    assert_eq!(
        unit.truncate_chain(&a.to_string(), 0, 1, "h")
            .await
            .expect("truncate"),
        Some(1),
        "archival deletes from an org's chain"
    );
    drop(unit);
    // An org unit sees only its own org's events.
    let own = store
        .read_org(&OrgScope::for_checked_org(a))
        .await
        .expect("unit")
        .events(&EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .expect("events");
    assert!(own.iter().all(|e| e.org_id == Some(a)) && own.len() == 1);
    store.close().await;
}
