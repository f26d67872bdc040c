-- A presigned upload's completion moves the staged bytes to a key of its own, named by
-- its claim (the end of its lease, `file_uploads.claimed_until`): org/{org}/{file}.{µs}.
-- A move that lands after its lease ran out then cannot replace the bytes of the file
-- another completion recorded. The row names the claim whose key holds its bytes; NULL
-- for a direct upload's org/{org}/{file}, and for every file recorded before the upgrade.
--
-- The table's row-level security and grants (0007) cover a new column.
ALTER TABLE files ADD COLUMN upload_claim TIMESTAMPTZ;
