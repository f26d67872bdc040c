//! A transaction PostgreSQL rolls back to break a deadlock or a serialization conflict is
//! `StoreError::Contended` (a 503 worth a retry upstream), not an unexpected failure.

use sqlx::{Connection, PgConnection};
use tenantbase_store::StoreError;

/// The store's reading of an error PostgreSQL raises with SQLSTATE `code`.
async fn raised(conn: &mut PgConnection, code: &str) -> StoreError {
    let statement = format!(
        "DO $$ BEGIN RAISE EXCEPTION 'raised by the test' USING ERRCODE = '{code}'; END $$"
    );
    let error = sqlx::query(&statement)
        .execute(&mut *conn)
        .await
        .expect_err("raised");
    StoreError::from(error)
}

#[tokio::test]
async fn deadlocks_and_serialization_failures_are_contention() {
    let db = tenantbase_testkit::fresh_database().await;
    let mut conn = PgConnection::connect(&db.url).await.expect("connect");
    for code in ["40P01", "40001"] {
        let error = raised(&mut conn, code).await;
        assert!(
            matches!(error, StoreError::Contended(_)),
            "{code}: {error:?}"
        );
    }
    let other = raised(&mut conn, "22012").await;
    assert!(matches!(other, StoreError::Database(_)), "{other:?}");
}
