-- Claims scan claimable jobs in run_at order. Running jobs always have run_at in the
-- past, so one partial index over both states serves the whole claim condition, and
-- it stays small: finished jobs are not in it.
DROP INDEX jobs_due;
CREATE INDEX jobs_claimable ON jobs (run_at) WHERE state IN ('queued', 'running');
