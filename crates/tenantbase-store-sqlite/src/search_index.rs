//! The project search index (`projects_fts`, FTS5) is kept in step once per group-commit
//! batch. FTS5 writes its pending terms out as a new segment at every savepoint, and each
//! unit that joins a batch runs in one; so the projects' triggers queue their index
//! changes in `projects_fts_pending` instead (migration 0026), and the batch takes the
//! queue in just before its COMMIT, in the same transaction: one segment per batch, and
//! nothing committed that search does not find.

/// The queue's table, whose writes the writer connection's update hook watches.
pub(crate) const QUEUE: &str = "projects_fts_pending";

/// Replays the queue into the index in the order it was queued (a `NULL` command
/// indexes a row, `'delete'` removes the terms it was indexed with), then empties it.
pub(crate) const CATCH_UP: &str = "\
    INSERT INTO projects_fts (projects_fts, rowid, name, description) \
        SELECT command, project_rowid, name, description FROM projects_fts_pending ORDER BY seq; \
    DELETE FROM projects_fts_pending";
