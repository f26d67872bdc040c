//! The statements both dialects accept, written once. `shared_statements!` instantiates
//! them for one sqlx database type inside a backend crate, so each backend gets concrete
//! functions (and its `UnitOfWork`) from this single text; only what differs — claiming
//! jobs, which PostgreSQL does with `FOR UPDATE SKIP LOCKED` — is written per backend.

/// Column lists shared by the statements below.
pub mod columns {
    pub const EVENT: &str = "id, chain, seq, org_id, event_type, actor_kind, actor_id, target_kind, \
         target_id, ip, user_agent, request_id, payload, occurred_at, prev_hash, hash";
    pub const JOB: &str = "id, kind, payload, state, attempts, max_attempts, run_at, unique_key, \
         last_error, locked_by, created_at, finished_at";
    pub const CLAIMED: &str = "id, kind, payload, attempts, max_attempts, run_at";
}

/// The claim statement. `row_lock` is what the dialect needs to keep concurrent claimers
/// apart: PostgreSQL's `FOR UPDATE SKIP LOCKED` (workers in other processes pass over rows
/// another is claiming, so they neither wait nor take the same job), nothing on SQLite,
/// whose single writer already makes `UPDATE … RETURNING` atomic.
pub fn claim_sql(row_lock: &str) -> String {
    format!(
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, locked_by = $1, \
         locked_until = $2, updated_at = $3 \
         WHERE id IN (SELECT id FROM jobs \
           WHERE state IN ('queued', 'running') AND run_at <= $3 \
             AND (state = 'queued' OR locked_until < $3) \
           ORDER BY run_at LIMIT $4 {row_lock}) \
         RETURNING {}",
        columns::CLAIMED
    )
}

/// Instantiates the shared statements for `$db` as a module named `shared`.
#[macro_export]
macro_rules! shared_statements {
    ($db:ty) => {
        /// The statements shared by both backends, for this one.
        pub(crate) mod shared {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use tenantbase_domain::JobId;
            use tenantbase_domain::id::{SessionId, UserId};
            use tenantbase_store::events::{ChainHead, Event, NewEvent, GENESIS_HASH};
            use tenantbase_store::identity::{NewSession, NewUser, Rotation, Session, SigningKeyRow, User};
            use tenantbase_store::jobs::{Enqueued, Job, JobState, NewJob, QueueDepth, MAX_PAYLOAD_BYTES};
            use tenantbase_store::shared::columns;
            use tenantbase_store::sql::{ChainHeadRow, EventRow, JobRow};
            use tenantbase_store::{StoreError, StoreResult, UnitOfWork};

            type Db = $db;
            type Conn = <Db as sqlx::Database>::Connection;

            /// A transaction on this backend.
            pub struct Unit {
                tx: sqlx::Transaction<'static, Db>,
            }

            impl Unit {
                pub fn new(tx: sqlx::Transaction<'static, Db>) -> Self {
                    Self { tx }
                }
            }

            #[async_trait]
            impl UnitOfWork for Unit {
                async fn append_event(&mut self, event: NewEvent) -> StoreResult<Event> {
                    enter_platform_scope(&mut self.tx).await?;
                    append_event(&mut self.tx, event).await
                }

                async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued> {
                    enqueue_job(&mut self.tx, job).await
                }

                async fn retry_job(&mut self, id: JobId, now: DateTime<Utc>) -> StoreResult<()> {
                    retry_job(&mut *self.tx, id, now).await
                }

                async fn truncate_chain(&mut self, chain: &str, through_seq: i64, through_hash: &str) -> StoreResult<u64> {
                    enter_platform_scope(&mut self.tx).await?;
                    truncate_chain(&mut self.tx, chain, through_seq, through_hash).await
                }

                async fn session(&mut self, id: SessionId) -> StoreResult<Session> {
                    super::identity_sql::session_by_id(&mut *self.tx, id).await
                }

                async fn user(&mut self, id: UserId) -> StoreResult<User> {
                    super::identity_sql::user_by_id(&mut *self.tx, id).await
                }

                async fn lock_user(&mut self, id: UserId) -> StoreResult<User> {
                    super::identity_sql::lock_user(&mut self.tx, id).await
                }

                async fn create_user(&mut self, user: NewUser) -> StoreResult<User> {
                    super::identity_sql::create_user(&mut self.tx, user).await
                }

                async fn create_session(&mut self, session: NewSession, refresh_hash: &str) -> StoreResult<Session> {
                    super::identity_sql::create_session(&mut self.tx, session, refresh_hash).await
                }

                async fn rotate_refresh_token(
                    &mut self,
                    old_hash: &str,
                    new_hash: &str,
                    grace: std::time::Duration,
                    now: DateTime<Utc>,
                ) -> StoreResult<Rotation> {
                    super::identity_sql::rotate_refresh_token(&mut self.tx, old_hash, new_hash, grace, now).await
                }

                async fn revoke_session(&mut self, id: SessionId, reason: &str, now: DateTime<Utc>) -> StoreResult<bool> {
                    super::identity_sql::revoke_session(&mut self.tx, id, reason, now).await
                }

                async fn revoke_user_sessions(
                    &mut self,
                    user_id: UserId,
                    keep: Option<SessionId>,
                    reason: &str,
                    now: DateTime<Utc>,
                ) -> StoreResult<u64> {
                    super::identity_sql::revoke_user_sessions(&mut self.tx, user_id, keep, reason, now).await
                }

                async fn issue_user_token(
                    &mut self,
                    user_id: UserId,
                    purpose: &str,
                    token_hash: &str,
                    expires_at: DateTime<Utc>,
                ) -> StoreResult<()> {
                    super::identity_sql::issue_user_token(&mut self.tx, user_id, purpose, token_hash, expires_at).await
                }

                async fn consume_user_token(&mut self, token_hash: &str, purpose: &str, now: DateTime<Utc>) -> StoreResult<Option<UserId>> {
                    super::identity_sql::consume_user_token(&mut self.tx, token_hash, purpose, now).await
                }

                async fn mark_email_verified(&mut self, user_id: UserId, now: DateTime<Utc>) -> StoreResult<()> {
                    super::identity_sql::mark_email_verified(&mut self.tx, user_id, now).await
                }

                async fn set_password_hash(&mut self, user_id: UserId, password_hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
                    super::identity_sql::set_password_hash(&mut self.tx, user_id, password_hash, now).await
                }

                async fn upgrade_guest(&mut self, user_id: UserId, email: &str, password_hash: &str, now: DateTime<Utc>) -> StoreResult<User> {
                    super::identity_sql::upgrade_guest(&mut self.tx, user_id, email, password_hash, now).await
                }

                async fn insert_signing_key(&mut self, key: SigningKeyRow) -> StoreResult<()> {
                    super::identity_sql::insert_signing_key(&mut self.tx, key).await
                }

                async fn retire_signing_key(&mut self, kid: &str, now: DateTime<Utc>) -> StoreResult<()> {
                    super::identity_sql::retire_signing_key(&mut self.tx, kid, now).await
                }

                async fn commit(self: Box<Self>) -> StoreResult<()> {
                    Ok(self.tx.commit().await?)
                }
            }

            /// Opens the event log's platform scope for the rest of this transaction: on
            /// PostgreSQL, row-level security on `events` admits every chain to it
            /// (migration 0008). Only the cross-org paths of the event log call it: a
            /// platform unit's append and truncation, and `events_after`. Org units never
            /// do, so they reach their own org's events only.
            async fn enter_platform_scope(conn: &mut Conn) -> StoreResult<()> {
                if let Some(enter) = super::ENTER_PLATFORM_SCOPE {
                    sqlx::query(enter).execute(&mut *conn).await?;
                }
                Ok(())
            }

            pub async fn append_event(conn: &mut Conn, new: NewEvent) -> StoreResult<Event> {
                let chain = tenantbase_store::events::ChainKey::for_org(new.org_id).as_string();
                // Taking the next number locks the chain's row until commit, so appends
                // to one chain queue up behind each other and never fork it.
                let heads: Vec<(i64, String)> = sqlx::query_as(
                    "INSERT INTO audit_chains (chain, head_seq, head_hash, anchor_seq, anchor_hash) \
                     VALUES ($1, 1, $2, 0, $2) \
                     ON CONFLICT (chain) DO UPDATE SET head_seq = audit_chains.head_seq + 1 \
                     RETURNING head_seq, head_hash",
                )
                .bind(&chain)
                .bind(GENESIS_HASH)
                .fetch_all(&mut *conn)
                .await?;
                let (seq, prev_hash) = heads.into_iter().next().ok_or(StoreError::NotFound)?;
                let event = Event::seal(new, chain, seq, prev_hash);
                sqlx::query(&format!(
                    "INSERT INTO events ({}) VALUES \
                     ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
                    columns::EVENT
                ))
                .bind(event.id.as_uuid())
                .bind(&event.chain)
                .bind(event.seq)
                .bind(event.org_id.map(|org| org.as_uuid()))
                .bind(&event.event_type)
                .bind(&event.actor_kind)
                .bind(&event.actor_id)
                .bind(&event.target_kind)
                .bind(&event.target_id)
                .bind(&event.ip)
                .bind(&event.user_agent)
                .bind(&event.request_id)
                .bind(&event.payload)
                .bind(event.occurred_at)
                .bind(&event.prev_hash)
                .bind(&event.hash)
                .execute(&mut *conn)
                .await?;
                sqlx::query("UPDATE audit_chains SET head_hash = $2 WHERE chain = $1")
                    .bind(&event.chain)
                    .bind(&event.hash)
                    .execute(&mut *conn)
                    .await?;
                Ok(event)
            }

            pub async fn enqueue_job(conn: &mut Conn, job: NewJob) -> StoreResult<Enqueued> {
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

            /// A page of any chain, for verification, export and archival: in the
            /// platform scope, which on PostgreSQL takes a read-only transaction (opened
            /// with the setting in the same round trip).
            pub async fn events_after(pool: &sqlx::Pool<Db>, chain: &str, after_seq: i64, limit: u32) -> StoreResult<Vec<Event>> {
                let sql = format!(
                    "SELECT {} FROM events WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                    columns::EVENT
                );
                let page = || sqlx::query_as::<_, EventRow>(&sql).bind(chain).bind(after_seq).bind(i64::from(limit));
                let rows = match super::ENTER_PLATFORM_SCOPE {
                    None => page().fetch_all(pool).await?,
                    Some(enter) => {
                        let mut tx = pool.begin_with(format!("BEGIN READ ONLY; {enter}")).await?;
                        let rows = page().fetch_all(&mut *tx).await?;
                        tx.commit().await?;
                        rows
                    }
                };
                Ok(rows.into_iter().map(Event::from).collect())
            }

            pub async fn chain_heads<'e, E>(db: E) -> StoreResult<Vec<ChainHead>>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let rows: Vec<ChainHeadRow> = sqlx::query_as(
                    "SELECT chain, head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chains ORDER BY chain",
                )
                .fetch_all(db)
                .await?;
                Ok(rows.into_iter().map(ChainHead::from).collect())
            }

            pub async fn truncate_chain(
                conn: &mut Conn,
                chain: &str,
                through_seq: i64,
                through_hash: &str,
            ) -> StoreResult<u64> {
                let deleted = sqlx::query("DELETE FROM events WHERE chain = $1 AND seq <= $2")
                    .bind(chain)
                    .bind(through_seq)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected();
                sqlx::query(
                    "UPDATE audit_chains SET anchor_seq = $2, anchor_hash = $3 \
                     WHERE chain = $1 AND anchor_seq < $2",
                )
                .bind(chain)
                .bind(through_seq)
                .bind(through_hash)
                .execute(&mut *conn)
                .await?;
                Ok(deleted)
            }

            pub async fn complete_jobs<'e, E>(db: E, ids: &[JobId], worker: &str, now: DateTime<Utc>) -> StoreResult<u64>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                if ids.is_empty() {
                    return Ok(0);
                }
                let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 3)).collect();
                let sql = format!(
                    "UPDATE jobs SET state = 'succeeded', payload = '{{}}', finished_at = $2, updated_at = $2, \
                     locked_until = NULL \
                     WHERE locked_by = $1 AND state = 'running' AND id IN ({})",
                    placeholders.join(", ")
                );
                let mut query = sqlx::query(&sql).bind(worker).bind(now);
                for id in ids {
                    query = query.bind(id.as_uuid());
                }
                Ok(query.execute(db).await?.rows_affected())
            }

            pub async fn fail_job<'e, E>(
                db: E,
                id: JobId,
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
                let failed = sqlx::query(
                    "UPDATE jobs SET state = $4, run_at = COALESCE($5, run_at), last_error = $3, \
                     locked_until = NULL, finished_at = $6, updated_at = $7 \
                     WHERE id = $1 AND locked_by = $2 AND state = 'running'",
                )
                .bind(id.as_uuid())
                .bind(worker)
                .bind(error)
                .bind(state.as_str())
                .bind(retry_at)
                .bind(finished_at)
                .bind(now)
                .execute(db)
                .await?;
                Ok(failed.rows_affected() == 1)
            }

            pub async fn list_jobs<'e, E>(db: E, state: Option<JobState>, limit: u32) -> StoreResult<Vec<Job>>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let rows: Vec<JobRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM jobs WHERE ($1 IS NULL OR state = $1) ORDER BY created_at DESC, id DESC LIMIT $2",
                    columns::JOB
                ))
                .bind(state.map(JobState::as_str))
                .bind(i64::from(limit))
                .fetch_all(db)
                .await?;
                rows.into_iter().map(Job::try_from).collect()
            }

            pub async fn get_job<'e, E>(db: E, id: JobId) -> StoreResult<Job>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let row: JobRow = sqlx::query_as(&format!("SELECT {} FROM jobs WHERE id = $1", columns::JOB))
                    .bind(id.as_uuid())
                    .fetch_one(db)
                    .await?;
                Job::try_from(row)
            }

            pub async fn retry_job<'e, E>(db: E, id: JobId, now: DateTime<Utc>) -> StoreResult<()>
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

            pub async fn queue_depth<'e, E>(db: E) -> StoreResult<Vec<QueueDepth>>
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

            pub async fn delete_finished_jobs<'e, E>(db: E, before: DateTime<Utc>) -> StoreResult<u64>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let deleted = sqlx::query("DELETE FROM jobs WHERE state = 'succeeded' AND finished_at < $1")
                    .bind(before)
                    .execute(db)
                    .await?;
                Ok(deleted.rows_affected())
            }
        }
    };
}
