-- `pending_events` is a queue: every change inserts its events here and the sealer deletes
-- them about one interval later (ADR 0004). Each index is paid by every insert and every
-- delete, and three of them took each creator's insert to three B-tree pages that every
-- writer appends to. The sealer reads and deletes a chain's rows by (chain, pending_no),
-- so that is the one index kept, as the primary key (a table without one could not be
-- published for logical replication). An event's id is unique in `events`, which it moves
-- into; its own unique index here only repeated that check.
ALTER TABLE pending_events DROP CONSTRAINT pending_events_id_key;
ALTER TABLE pending_events DROP CONSTRAINT pending_events_pkey;
DROP INDEX pending_events_chain;
ALTER TABLE pending_events ADD PRIMARY KEY (chain, pending_no);
