//! What PostgreSQL does differently from SQLite, for the shared statements (`crate::sql`):
//! the database type, the store type, row locks, the event log's platform scope, and
//! project search through full-text search.

use tenantbase_store::StoreResult;

/// The database the shared statements are compiled for.
pub(crate) type Db = sqlx::Postgres;

/// `db.system.name` of the units' trace spans (OpenTelemetry's name for it).
pub(crate) const DB_SYSTEM: &str = "postgresql";

/// The store type the shared statements implement the area traits for.
pub(crate) type BackendStore = crate::PgStore;

/// A unit of work's transaction: sqlx's own (its `commit` is COMMIT).
pub(crate) type WriteTx = sqlx::Transaction<'static, Db>;

/// Concurrent workers skip rows another worker is claiming (see `sql::platform::jobs`).
pub(crate) const CLAIM_ROW_LOCK: &str = "FOR UPDATE SKIP LOCKED";

/// Row locks for reads that must serialize with writers (`lock_user`).
pub(crate) const USER_ROW_LOCK: &str = "FOR UPDATE";

/// `USER_ROW_LOCK` on the users row of a query that joins others, named `alias` there.
pub(crate) fn user_row_lock_of(alias: &str) -> String {
    format!("{USER_ROW_LOCK} OF {alias}")
}

/// The transaction-local setting that row-level security on `events` admits every chain
/// for (migration 0008); set only by the event log's cross-org paths.
pub(crate) const PLATFORM_SCOPE: Option<&str> = Some("SET LOCAL app.scope = 'platform'");

/// An org read on a pooled connection, outside any transaction: each statement goes with
/// the org's setting for row-level security, in the same pipeline and so the same
/// implicit transaction (the vendored sqlx-postgres's `set_statement_prefix`): one round
/// trip per statement, no `BEGIN` or `ROLLBACK`. If the setting failed, the statement is
/// not run. A prepared `set_config`, not `SET LOCAL`, which outside a transaction block
/// draws a warning from the server every time.
pub(crate) fn pooled_org_read(conn: &mut crate::sql::Conn, scope: tenantbase_store::OrgScope) {
    conn.set_statement_prefix(Some((
        "SELECT set_config('app.org_id', $1, true)",
        scope.org_id().as_uuid().to_string(),
    )));
}

/// `pooled_org_read` for the reads of one user's memberships across orgs, which row-level
/// security admits by `app.user_id`.
pub(crate) fn pooled_user_read(conn: &mut crate::sql::Conn, user: tenantbase_domain::id::UserId) {
    conn.set_statement_prefix(Some((
        "SELECT set_config('app.user_id', $1, true)",
        user.as_uuid().to_string(),
    )));
}

/// What `pooled_org_read` or `pooled_user_read` set, cleared before the connection goes
/// back to the pool.
pub(crate) fn end_pooled_read(conn: &mut crate::sql::Conn) {
    conn.set_statement_prefix(None);
}

/// Sets `PLATFORM_SCOPE` for the rest of the transaction, sent with its next statement
/// rather than on its own (the vendored sqlx-postgres's `queue_before_next`): if it
/// failed, that statement is not run.
pub(crate) async fn enter_platform_scope(conn: &mut crate::sql::Conn) -> StoreResult<()> {
    if let Some(scope) = PLATFORM_SCOPE {
        conn.queue_before_next(scope).await?;
    }
    Ok(())
}

/// The transaction's `COMMIT` goes with the next statement, in the same round trip (the
/// vendored sqlx-postgres's `commit_with_next`), and is skipped if that statement fails.
pub(crate) fn commit_with_next(conn: &mut crate::sql::Conn) {
    conn.commit_with_next();
}

/// The next statement, whose answer is success or failure alone, goes with the one after
/// it instead of on its own (the vendored sqlx-postgres's `defer_next`); if it fails, the
/// server skips the rest, and the one after it fails with its error.
pub(crate) fn defer_next(conn: &mut crate::sql::Conn) {
    conn.defer_next();
}

/// `session_insert` (binding `$1`, the session's id, and `$8`, its creation time), the
/// insert of its first refresh token (hash `$13`) and then `read`, if any, as one
/// statement, so one round trip: the token's row takes the id the session's returns,
/// and its foreign key is checked once the statement, both rows, is done. `read` runs on
/// the statement's snapshot, which does not hold the two new rows.
pub(crate) fn with_refresh_token(session_insert: &str, read: Option<&str>) -> String {
    let token = "INSERT INTO refresh_tokens (token_hash, session_id, created_at) \
                 SELECT $13, id, $8 FROM session";
    match read {
        None => format!("WITH session AS ({session_insert} RETURNING id) {token}"),
        Some(read) => {
            format!("WITH session AS ({session_insert} RETURNING id), token AS ({token}) {read}")
        }
    }
}

/// A query that updates the row of `table` that `key` picks (a primary key: at most one
/// row) — `UPDATE table set_where AND key`, where `set_where` is `SET … WHERE …` — and
/// then reads what follows: `(prefix, source)`, where `source` names the row as updated,
/// with its `columns`, in a `FROM`: a data-modifying `WITH`, so one statement.
pub(crate) fn updated_row(
    (table, key): (&str, &str),
    set_where: &str,
    columns: &str,
) -> (String, String) {
    (
        format!("WITH updated AS (UPDATE {table} {set_where} AND {key} RETURNING {columns})"),
        "updated".to_owned(),
    )
}

/// Project search through the GIN index on `to_tsvector('simple', name || ' ' || description)`.
pub(crate) mod search {
    use sqlx::{Postgres, QueryBuilder};

    const DOCUMENT: &str =
        "to_tsvector('simple', projects.name || ' ' || coalesce(projects.description, ''))";

    pub(crate) const FROM_MATCHING: &str = "projects";

    /// Every word, as a prefix: `word:* & other:*`.
    pub(crate) fn query_text(words: &[String]) -> String {
        words
            .iter()
            .map(|word| format!("{word}:*"))
            .collect::<Vec<_>>()
            .join(" & ")
    }

    pub(crate) fn push_match(builder: &mut QueryBuilder<'_, Postgres>, query: String) {
        builder.push(format!(" AND {DOCUMENT} @@ to_tsquery('simple', "));
        builder.push_bind(query).push(")");
    }

    /// ts_rank, best (highest) first.
    pub(crate) fn push_rank(builder: &mut QueryBuilder<'_, Postgres>, query: String) {
        builder.push(format!("ts_rank({DOCUMENT}, to_tsquery('simple', "));
        builder.push_bind(query).push(")) DESC");
    }
}
