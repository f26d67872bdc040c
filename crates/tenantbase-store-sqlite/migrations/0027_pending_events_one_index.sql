-- PostgreSQL only: its `pending_events` keeps one index, (chain, pending_no), instead of
-- three. Here `pending_no` is the rowid, free to keep, and one writer appends at a time,
-- so nothing changes; the migration keeps both backends' numbers and names alike.
SELECT 1;
