//! Deleting what ended sign-ins leave behind, a bounded batch at a time: each statement
//! finds its rows by an expiry index and holds the writer for one batch only.

use chrono::{DateTime, Utc};
use tenantbase_store::StoreResult;
use tenantbase_store::identity::retention::PrunedAuth;

use crate::dialect::Db;

/// Each table with the column its rows are found by and the column that expires.
const TABLES: [(&str, &str, &str); 3] = [
    ("sessions", "id", "absolute_expires_at"),
    ("user_tokens", "token_hash", "expires_at"),
    ("trusted_devices", "id", "expires_at"),
];

pub(crate) async fn prune_ended_auth<'e, E>(
    db: E,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<PrunedAuth>
where
    E: sqlx::Executor<'e, Database = Db> + Copy,
{
    let mut deleted = [0; TABLES.len()];
    for ((table, key, expiry), count) in TABLES.into_iter().zip(&mut deleted) {
        *count = sqlx::query(&format!(
            "DELETE FROM {table} WHERE {key} IN \
             (SELECT {key} FROM {table} WHERE {expiry} < $1 LIMIT $2)"
        ))
        .bind(before)
        .bind(i64::from(limit))
        .execute(db)
        .await?
        .rows_affected();
    }
    let [sessions, user_tokens, trusted_devices] = deleted;
    Ok(PrunedAuth {
        sessions,
        user_tokens,
        trusted_devices,
    })
}
