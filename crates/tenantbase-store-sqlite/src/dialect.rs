//! What SQLite does differently from PostgreSQL, for the shared statements (`crate::sql`):
//! the database type, the store type, row locks and scopes it does without, and project
//! search through FTS5.

use tenantbase_store::StoreResult;

/// The database the shared statements are compiled for.
pub(crate) type Db = sqlx::Sqlite;

/// `db.system.name` of the units' trace spans (OpenTelemetry's name for it).
pub(crate) const DB_SYSTEM: &str = "sqlite";

/// The store type the shared statements implement the area traits for.
pub(crate) type BackendStore = crate::SqliteStore;

/// A unit of work's transaction: a savepoint in the writer's group commit (ADR 0009),
/// whose `commit` returns once its batch's COMMIT has.
pub(crate) type WriteTx = crate::group::GroupTx;

/// SQLite has one writer at a time: claims need no row lock.
pub(crate) const CLAIM_ROW_LOCK: &str = "";

/// SQLite units hold the database write lock: rows need no lock of their own.
pub(crate) const USER_ROW_LOCK: &str = "";

/// No row locks on SQLite (`USER_ROW_LOCK`), in a query that joins others either.
pub(crate) fn user_row_lock_of(_alias: &str) -> String {
    String::new()
}

/// SQLite has no row-level security: the event log's platform paths need no scope.
pub(crate) const PLATFORM_SCOPE: Option<&str> = None;

/// SQLite has no row-level security: a read needs no setting.
pub(crate) fn pooled_org_read(_conn: &mut crate::sql::Conn, _scope: tenantbase_store::OrgScope) {}

/// SQLite has no row-level security: a user's read needs no setting either.
pub(crate) fn pooled_user_read(_conn: &mut crate::sql::Conn, _user: tenantbase_domain::id::UserId) {
}

/// Nothing was set by `pooled_org_read` or `pooled_user_read`.
pub(crate) fn end_pooled_read(_conn: &mut crate::sql::Conn) {}

/// SQLite has no row-level security: nothing to enter.
pub(crate) async fn enter_platform_scope(_conn: &mut crate::sql::Conn) -> StoreResult<()> {
    Ok(())
}

/// A unit's commit is its savepoint's release in the writer's group commit, which no
/// statement can carry: `commit` does it.
pub(crate) fn commit_with_next(_conn: &mut crate::sql::Conn) {}

/// Statements run on the caller's thread (ADR 0010): there is no round trip to save.
pub(crate) fn defer_next(_conn: &mut crate::sql::Conn) {}

/// `session_insert` (binding `$1`, the session's id, and `$8`, its creation time), the
/// insert of its first refresh token (hash `$13`) and then `read`, if any, as one query:
/// SQLite runs a query's statements in one call (each binding the query's arguments by
/// number), so a sign-in makes one trip through sqlx for all. `read` sees both new rows.
pub(crate) fn with_refresh_token(session_insert: &str, read: Option<&str>) -> String {
    let insert = format!(
        "{session_insert}; \
         INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($13, $1, $8)"
    );
    match read {
        None => insert,
        Some(read) => format!("{insert}; {read}"),
    }
}

/// A query that updates the row of `table` that `key` picks (a primary key: at most one
/// row) — `UPDATE table set_where AND key`, where `set_where` is `SET … WHERE …` — and
/// then reads what follows: `("UPDATE …;", source)`, where `source` is that row's
/// `columns` in a `FROM`, present only when the update changed it (`changes()`: the rows
/// the query's previous statement changed). One call through sqlx for both.
pub(crate) fn updated_row(
    (table, key): (&str, &str),
    set_where: &str,
    columns: &str,
) -> (String, String) {
    (
        format!("UPDATE {table} {set_where} AND {key};"),
        format!("(SELECT {columns} FROM {table} WHERE {key} AND changes() = 1)"),
    )
}

/// Project search through the FTS5 index `projects_fts` (external content, kept in step
/// by triggers through a queue each batch's COMMIT takes in, `search_index`; keyed by the
/// rowid, which nothing here rewrites — no VACUUM).
pub(crate) mod search {
    use sqlx::{QueryBuilder, Sqlite};

    pub(crate) const FROM_MATCHING: &str =
        "projects JOIN projects_fts ON projects_fts.rowid = projects.rowid";

    /// Every word, as a prefix: `"word"*` terms, which FTS5 ANDs together.
    pub(crate) fn query_text(words: &[String]) -> String {
        words
            .iter()
            .map(|word| format!("\"{word}\"*"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    pub(crate) fn push_match(builder: &mut QueryBuilder<'_, Sqlite>, query: String) {
        builder.push(" AND projects_fts MATCH ").push_bind(query);
    }

    /// bm25, best (lowest) first.
    pub(crate) fn push_rank(builder: &mut QueryBuilder<'_, Sqlite>, _query: String) {
        builder.push("projects_fts.rank");
    }
}
