//! The job queue's statements. Only claiming differs between the dialects (the row lock
//! of `dialect::CLAIM_ROW_LOCK`); the rest is written once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::JobId;
use tenantbase_domain::model::{ClaimedJob, Enqueued, Job, JobClaim, JobState, QueueDepth};
use tenantbase_store::platform::JobsUnit;
use tenantbase_store::platform::jobs::{
    CLAIMED_COLUMNS, ClaimedRow, JOB_COLUMNS, JobRow, MAX_PAYLOAD_BYTES, NewJob,
};
use tenantbase_store::{StoreError, StoreResult};

use super::PlatformTx;
use crate::dialect::{self, Db};
use crate::sql::Conn;

#[async_trait]
impl JobsUnit for PlatformTx {
    async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued> {
        enqueue_job(&mut self.tx, job).await
    }

    async fn retry_job(&mut self, id: JobId, now: DateTime<Utc>) -> StoreResult<()> {
        retry_job(&mut *self.tx, id, now).await
    }
}

/// Claims up to `limit` due jobs of `kinds` for `worker` until `lease_until`. The
/// dialect's row lock keeps concurrent claimers apart: PostgreSQL's `FOR UPDATE SKIP
/// LOCKED` (workers in other processes pass over rows another is claiming, so they
/// neither wait nor take the same job), nothing on SQLite, whose single writer already
/// makes `UPDATE … RETURNING` atomic.
///
/// A worker that dies mid-run (OOM, abort) never settles its job, so the claim settles
/// it: an expired lease on the last attempt is dead-lettered first, and never reclaimed.
/// The dead letter keeps its lapsed lease ([`LOST_CLAIM`]): the worker may only have
/// been slow to report, and its report still lands.
pub(crate) async fn claim_jobs<'e, E>(
    db: E,
    worker: &str,
    kinds: &[&str],
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
    limit: u32,
) -> StoreResult<Vec<ClaimedJob>>
where
    E: sqlx::Executor<'e, Database = Db> + Copy,
{
    // The first two terms are the claimable index's own (`jobs_claimable`, partial on
    // them): without them this runs every poll as a scan of every job kept.
    sqlx::query(
        "UPDATE jobs SET state = 'dead', \
         last_error = 'worker ' || locked_by || ' was lost during the last attempt', \
         finished_at = $1, updated_at = $1 \
         WHERE state IN ('queued', 'running') AND run_at <= $1 \
           AND state = 'running' AND locked_until < $1 AND attempts >= max_attempts",
    )
    .bind(now)
    .execute(db)
    .await?;
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    // `attempts < max_attempts` too: a lease that expired since the statement above is
    // left for the next claim to dead-letter.
    let sql = format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, \
         locked_until = $2, updated_at = $3 \
         WHERE id IN (SELECT id FROM jobs \
           WHERE state IN ('queued', 'running') AND run_at <= $3 \
             AND (state = 'queued' OR (locked_until < $3 AND attempts < max_attempts)) \
             AND kind IN ({}) \
           ORDER BY run_at LIMIT $4 {}) \
         RETURNING {CLAIMED_COLUMNS}",
        placeholders(5, kinds.len()),
        dialect::CLAIM_ROW_LOCK
    );
    let mut query = sqlx::query_as(&sql)
        .bind(worker)
        .bind(lease_until)
        .bind(now)
        .bind(i64::from(limit));
    for kind in kinds {
        query = query.bind(*kind);
    }
    let rows: Vec<ClaimedRow> = query.fetch_all(db).await?;
    rows.into_iter().map(ClaimedJob::try_from).collect()
}

/// `$first, …`: `count` numbered placeholders for an `IN` list.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn enqueue_job(conn: &mut Conn, job: NewJob) -> StoreResult<Enqueued> {
    let payload = job.payload.to_string();
    if payload.len() > MAX_PAYLOAD_BYTES {
        return Err(StoreError::Invalid(format!(
            "job payload is {} bytes; the limit is {MAX_PAYLOAD_BYTES}",
            payload.len()
        )));
    }
    let now = Utc::now();
    let id = JobId::new();
    let inserted: Vec<(uuid::Uuid,)> = sqlx::query_as(
        "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_at, \
         unique_key, created_at, updated_at) \
         VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7, $7) \
         ON CONFLICT (unique_key) DO NOTHING RETURNING id",
    )
    .bind(id.as_uuid())
    .bind(&job.kind)
    .bind(&payload)
    .bind(i32::try_from(job.max_attempts).unwrap_or(i32::MAX))
    .bind(job.run_at.unwrap_or(now))
    .bind(&job.unique_key)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    if !inserted.is_empty() {
        return Ok(Enqueued::Created(id));
    }
    let (existing,): (uuid::Uuid,) = sqlx::query_as("SELECT id FROM jobs WHERE unique_key = $1")
        .bind(&job.unique_key)
        .fetch_one(&mut *conn)
        .await?;
    Ok(Enqueued::Duplicate(JobId::from_uuid(existing)))
}

/// A job dead-lettered by `claim_jobs` because its worker was lost on the last attempt:
/// dead, yet still holding the lease that lapsed (every other settling clears it). Nobody
/// has run it since, so the report of that claim (`locked_by`, `attempts`) still counts.
const LOST_CLAIM: &str = "(state = 'dead' AND locked_until IS NOT NULL)";

/// Succeeds each claim that stands: running under it, or [`LOST_CLAIM`] on it. A job
/// claimed again since (by any worker, which moves `attempts`) is left to the new claim.
pub(crate) async fn complete_jobs<'e, E>(
    db: E,
    claims: &[JobClaim],
    worker: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    if claims.is_empty() {
        return Ok(0);
    }
    // Joined to the claims as a table, so each is found by the primary key; a row-value
    // `IN` would scan every job kept on SQLite.
    let sql = format!(
        "UPDATE jobs SET state = 'succeeded', payload = '{{}}', finished_at = $2, updated_at = $2, \
         locked_until = NULL \
         FROM (VALUES {}) AS claims \
         WHERE jobs.id = claims.column1 AND jobs.attempts = claims.column2 \
           AND locked_by = $1 AND (state = 'running' OR {LOST_CLAIM})",
        (0..claims.len())
            .map(|n| format!("(${}, ${})", 3 + 2 * n, 4 + 2 * n))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut query = sqlx::query(&sql).bind(worker).bind(now);
    for claim in claims {
        query = query.bind(claim.id.as_uuid()).bind(claim.attempt);
    }
    Ok(query.execute(db).await?.rows_affected())
}

/// Fails a claim that stands, like `complete_jobs`. A [`LOST_CLAIM`] takes only a final
/// failure, whose reason replaces the lost-worker one: it stays dead, never requeued.
pub(crate) async fn fail_job<'e, E>(
    db: E,
    claim: JobClaim,
    worker: &str,
    error: &str,
    retry_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let (state, finished_at) = match retry_at {
        Some(_) => (JobState::Queued, None),
        None => (JobState::Dead, Some(now)),
    };
    let failed = sqlx::query(&format!(
        "UPDATE jobs SET state = $4, run_at = COALESCE($5, run_at), last_error = $3, \
         locked_until = NULL, finished_at = $6, updated_at = $7 \
         WHERE id = $1 AND attempts = $8 AND locked_by = $2 \
           AND (state = 'running' OR ({LOST_CLAIM} AND $5 IS NULL))"
    ))
    .bind(claim.id.as_uuid())
    .bind(worker)
    .bind(error)
    .bind(state.as_str())
    .bind(retry_at)
    .bind(finished_at)
    .bind(now)
    .bind(claim.attempt)
    .execute(db)
    .await?;
    Ok(failed.rows_affected() == 1)
}

pub(crate) async fn list_jobs<'e, E>(
    db: E,
    state: Option<JobState>,
    limit: u32,
) -> StoreResult<Vec<Job>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<JobRow> = sqlx::query_as(&format!(
        "SELECT {} FROM jobs WHERE ($1 IS NULL OR state = $1) \
         ORDER BY created_at DESC, id DESC LIMIT $2",
        JOB_COLUMNS
    ))
    .bind(state.map(JobState::as_str))
    .bind(i64::from(limit))
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Job::try_from).collect()
}

pub(crate) async fn get_job<'e, E>(db: E, id: JobId) -> StoreResult<Job>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let row: JobRow = sqlx::query_as(&format!("SELECT {} FROM jobs WHERE id = $1", JOB_COLUMNS))
        .bind(id.as_uuid())
        .fetch_one(db)
        .await?;
    Job::try_from(row)
}

pub(crate) async fn retry_job<'e, E>(db: E, id: JobId, now: DateTime<Utc>) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let retried = sqlx::query(
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $2, locked_by = NULL, \
         locked_until = NULL, finished_at = NULL, updated_at = $2 \
         WHERE id = $1 AND state = 'dead'",
    )
    .bind(id.as_uuid())
    .bind(now)
    .execute(db)
    .await?;
    if retried.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(crate) async fn queue_depth<'e, E>(db: E) -> StoreResult<Vec<QueueDepth>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT kind, state, COUNT(*) FROM jobs WHERE state <> 'succeeded' \
         GROUP BY kind, state ORDER BY kind, state",
    )
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(kind, state, count)| {
            let state = state.parse().map_err(StoreError::Corrupt)?;
            Ok(QueueDepth { kind, state, count })
        })
        .collect()
}

pub(crate) async fn delete_finished_jobs<'e, E>(
    db: E,
    before: DateTime<Utc>,
    limit: u32,
) -> StoreResult<u64>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let deleted = sqlx::query(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs \
         WHERE state = 'succeeded' AND finished_at < $1 LIMIT $2)",
    )
    .bind(before)
    .bind(i64::from(limit))
    .execute(db)
    .await?;
    Ok(deleted.rows_affected())
}
