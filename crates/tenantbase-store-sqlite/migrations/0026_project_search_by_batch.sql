-- The project search index is brought up to date once per group-commit batch instead of
-- once per unit. FTS5 writes its pending terms out as a new segment at every savepoint,
-- and every unit that joins a batch runs in one (ADR 0009): a batch of 64 creates wrote
-- 64 segments and merged them. The triggers now queue what they did to the index here,
-- in the unit's own savepoint (so a unit rolled back queues nothing), and the batch's
-- COMMIT replays the queue into `projects_fts` in order and empties it, in the same
-- transaction: committed projects are always searchable, and the index writes once.
CREATE TABLE projects_fts_pending (
    seq           INTEGER PRIMARY KEY,
    -- NULL indexes the row; 'delete' removes the terms it was indexed with.
    command       TEXT CHECK (command IS NULL OR command = 'delete'),
    project_rowid INTEGER NOT NULL,
    name          TEXT NOT NULL,
    description   TEXT
);

DROP TRIGGER projects_fts_insert;
DROP TRIGGER projects_fts_delete;
DROP TRIGGER projects_fts_update;

CREATE TRIGGER projects_fts_insert AFTER INSERT ON projects BEGIN
    INSERT INTO projects_fts_pending (command, project_rowid, name, description)
    VALUES (NULL, new.rowid, new.name, new.description);
END;

CREATE TRIGGER projects_fts_delete AFTER DELETE ON projects BEGIN
    INSERT INTO projects_fts_pending (command, project_rowid, name, description)
    VALUES ('delete', old.rowid, old.name, old.description);
END;

CREATE TRIGGER projects_fts_update AFTER UPDATE OF name, description ON projects BEGIN
    INSERT INTO projects_fts_pending (command, project_rowid, name, description)
    VALUES ('delete', old.rowid, old.name, old.description),
           (NULL, new.rowid, new.name, new.description);
END;
