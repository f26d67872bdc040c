//! The statements on sessions and their refresh tokens.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::id::{SessionId, UserId};
use tenantbase_domain::model::{Rotation, Session};
use tenantbase_store::identity::sessions::{
    NewSession, OpenedBy, SESSION_COLUMNS, SessionRow, SignInContext,
};
use tenantbase_store::identity::{SessionsUnit, UsersUnit};
use tenantbase_store::{StoreError, StoreResult};

use crate::dialect::{self, Db};
use crate::sql::Conn;
use crate::sql::platform::PlatformTx;

#[async_trait]
impl SessionsUnit for PlatformTx {
    async fn session(&mut self, id: SessionId) -> StoreResult<Session> {
        session_by_id(&mut *self.tx, id).await
    }

    async fn create_session(
        &mut self,
        session: NewSession,
        refresh_hash: &str,
    ) -> StoreResult<Session> {
        create_session(&mut self.tx, session, refresh_hash).await
    }

    async fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        new_hash: &str,
        grace: std::time::Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Rotation> {
        rotate_refresh_token(&mut self.tx, old_hash, new_hash, grace, now).await
    }

    async fn revoke_session(
        &mut self,
        id: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        revoke_session(&mut self.tx, id, reason, now).await
    }

    async fn mark_reauthenticated(&mut self, id: SessionId, now: DateTime<Utc>) -> StoreResult<()> {
        sqlx::query("UPDATE sessions SET authenticated_at = $2 WHERE id = $1")
            .bind(id.as_uuid())
            .bind(now.trunc_subsecs(6))
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn create_sign_in_session(
        &mut self,
        session: NewSession,
        refresh_hash: &str,
        keep: usize,
        now: DateTime<Utc>,
    ) -> StoreResult<(Session, SignInContext)> {
        // Concurrent sign-ins of one user must see each other's sessions, or each would
        // trim the list it sees and together pass the limit: on PostgreSQL the user's row
        // lock serializes them (SQLite's one writer already does), taken in a statement
        // before the read's, which then sees every sign-in that held it before. Before
        // the insert too: its foreign key share-locks the row, and two sign-ins each
        // holding that and then asking for the row deadlocked (a 500 for one of them).
        if !dialect::USER_ROW_LOCK.is_empty() && self.locked_user != Some(session.user_id) {
            self.lock_user(session.user_id).await?;
        }
        create_sign_in_session(&mut self.tx, session, refresh_hash, keep, now).await
    }

    async fn revoke_sessions_opened_by(
        &mut self,
        user_id: UserId,
        opened_by: OpenedBy,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<SessionId>> {
        let (column, id) = match opened_by {
            OpenedBy::Identity(id) => ("identity_id", id.as_uuid()),
            OpenedBy::Passkey(id) => ("passkey_id", id.as_uuid()),
        };
        let revoked: Vec<(uuid::Uuid,)> = sqlx::query_as(&format!(
            "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
             WHERE user_id = $1 AND {column} = $2 AND revoked_at IS NULL \
             AND idle_expires_at > $3 AND absolute_expires_at > $3 RETURNING id"
        ))
        .bind(user_id.as_uuid())
        .bind(id)
        .bind(now)
        .bind(reason)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(revoked
            .into_iter()
            .map(|(id,)| SessionId::from_uuid(id))
            .collect())
    }

    async fn revoke_user_sessions(
        &mut self,
        user_id: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        revoke_user_sessions(&mut self.tx, user_id, keep, reason, now).await
    }
}

/// The insert of a session and of its first refresh token: `$1`..`$13`, bound by
/// `insert_session`.
static INSERT_SESSION: LazyLock<String> =
    LazyLock::new(|| dialect::with_refresh_token(&SESSION_INSERT, None));

/// The insert of the session alone: `$1`..`$12`. The passkey is written, never read
/// back: only revocation uses it.
static SESSION_INSERT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO sessions ({SESSION_COLUMNS}, passkey_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, NULL, $8, $11, $12)"
    )
});

pub(crate) async fn create_session(
    conn: &mut Conn,
    new: NewSession,
    refresh_hash: &str,
) -> StoreResult<Session> {
    let (session, _) = insert_session(conn, &INSERT_SESSION, new, refresh_hash, None).await?;
    Ok(session)
}

/// `SessionsUnit::create_sign_in_session`, the user's row locked: the inserts and the
/// read of the sign-in's context in one query (one statement on PostgreSQL, one call on
/// SQLite).
async fn create_sign_in_session(
    conn: &mut Conn,
    new: NewSession,
    refresh_hash: &str,
    keep: usize,
    now: DateTime<Utc>,
) -> StoreResult<(Session, SignInContext)> {
    // The read binds `$14`, the time the sessions must be live at, after the inserts'.
    static INSERT_AND_READ: LazyLock<String> = LazyLock::new(|| {
        let read = sign_in_context_select(["$2", "$1", "$8", "$3", "$5", "$6", "$14"]);
        dialect::with_refresh_token(&SESSION_INSERT, Some(&read))
    });
    let (session, live) =
        insert_session(conn, &INSERT_AND_READ, new, refresh_hash, Some(now)).await?;
    let context = sign_in_context_of(&session, live, keep);
    Ok((session, context))
}

/// Runs `query`, which begins with `INSERT_SESSION` (and reads the sign-in's context
/// when `context_at` binds its time): the session as stored, and the rows read.
async fn insert_session(
    conn: &mut Conn,
    query: &str,
    new: NewSession,
    refresh_hash: &str,
    context_at: Option<DateTime<Utc>>,
) -> StoreResult<(Session, Vec<LiveSession>)> {
    // Microseconds: what both databases keep, so the returned value equals a re-read.
    let now = Utc::now().trunc_subsecs(6);
    let amr = serde_json::to_string(&new.amr).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let mut query = sqlx::query_as(query)
        .bind(new.id.as_uuid())
        .bind(new.user_id.as_uuid())
        .bind(&new.device_id)
        .bind(&new.device_label)
        .bind(&new.user_agent)
        .bind(&new.ip)
        .bind(&amr)
        .bind(now)
        .bind(new.idle_expires_at)
        .bind(new.absolute_expires_at)
        .bind(new.identity_id.map(|id| id.as_uuid()))
        .bind(new.passkey_id.map(|id| id.as_uuid()))
        .bind(refresh_hash);
    if let Some(at) = context_at {
        query = query.bind(at);
    }
    let live = query.fetch_all(&mut *conn).await?;
    let session = Session {
        id: new.id,
        user_id: new.user_id,
        device_id: new.device_id,
        device_label: new.device_label,
        user_agent: new.user_agent,
        ip: new.ip,
        amr: new.amr,
        created_at: now,
        last_seen_at: now,
        idle_expires_at: new.idle_expires_at,
        absolute_expires_at: new.absolute_expires_at,
        revoked_at: None,
        authenticated_at: now,
        identity_id: new.identity_id,
    };
    Ok((session, live))
}

async fn insert_refresh_token(
    conn: &mut Conn,
    hash: &str,
    session: SessionId,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
    )
    .bind(hash)
    .bind(session.as_uuid())
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn rotate_refresh_token(
    conn: &mut Conn,
    old_hash: &str,
    new_hash: &str,
    grace: std::time::Duration,
    now: DateTime<Utc>,
) -> StoreResult<Rotation> {
    let used: Vec<(uuid::Uuid,)> = sqlx::query_as(
        "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL \
         RETURNING session_id",
    )
    .bind(old_hash)
    .bind(now)
    .fetch_all(&mut *conn)
    .await?;
    if let Some((session,)) = used.into_iter().next() {
        let session = SessionId::from_uuid(session);
        insert_refresh_token(conn, new_hash, session, now).await?;
        return Ok(Rotation::Rotated(session));
    }
    let earlier: Option<(uuid::Uuid, Option<DateTime<Utc>>)> =
        sqlx::query_as("SELECT session_id, used_at FROM refresh_tokens WHERE token_hash = $1")
            .bind(old_hash)
            .fetch_optional(&mut *conn)
            .await?;
    let grace = chrono::Duration::from_std(grace).unwrap_or_default();
    Ok(match earlier {
        None => Rotation::Unknown,
        Some((session, Some(used_at))) if now - used_at < grace => {
            Rotation::RaceLost(SessionId::from_uuid(session))
        }
        Some((session, _)) => Rotation::Reused(SessionId::from_uuid(session)),
    })
}

pub(crate) async fn revoke_session(
    conn: &mut Conn,
    id: SessionId,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let revoked = sqlx::query(
        "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 \
         WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id.as_uuid())
    .bind(now)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(revoked.rows_affected() == 1)
}

pub(crate) async fn revoke_user_sessions(
    conn: &mut Conn,
    user_id: UserId,
    keep: Option<SessionId>,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let revoked = sqlx::query(
        "UPDATE sessions SET revoked_at = $3, revoked_reason = $4 \
         WHERE user_id = $1 AND revoked_at IS NULL AND ($2 IS NULL OR id <> $2)",
    )
    .bind(user_id.as_uuid())
    .bind(keep.map(|k| k.as_uuid()))
    .bind(now)
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    Ok(revoked.rows_affected())
}

pub(crate) async fn session_by_id<'e, E>(db: E, id: SessionId) -> StoreResult<Session>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let row: SessionRow = sqlx::query_as(&format!(
        "SELECT {} FROM sessions WHERE id = $1",
        SESSION_COLUMNS
    ))
    .bind(id.as_uuid())
    .fetch_one(db)
    .await?;
    Session::try_from(row)
}

pub(crate) async fn live_sessions<'e, E>(
    db: E,
    user_id: UserId,
    now: DateTime<Utc>,
) -> StoreResult<Vec<Session>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<SessionRow> = sqlx::query_as(&format!(
        "SELECT {} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
         AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY created_at DESC, id DESC",
        SESSION_COLUMNS
    ))
    .bind(user_id.as_uuid())
    .bind(now)
    .fetch_all(db)
    .await?;
    rows.into_iter().map(Session::try_from).collect()
}

/// One of the user's live sessions, newest first, each row carrying the (uncorrelated,
/// so evaluated once) answers whether the device was seen and whether any other session
/// was: `sign_in_context_select`.
type LiveSession = (uuid::Uuid, bool, bool);

/// The sign-in context's read, its parameters named in `params`: the user, the new
/// session and its creation time, its device id, user agent and address, and the time
/// the sessions must be live at. The new session's row is one of the rows whether or not
/// the read sees its insert (PostgreSQL's data-modifying `WITH` does not; SQLite's next
/// statement does), so there is always one.
fn sign_in_context_select([user, session, created, device, agent, ip, now]: [&str; 7]) -> String {
    // `IS NOT DISTINCT FROM` would be the portable spelling of a NULL-safe `=`; SQLite
    // spells it `IS`, so the NULL cases are written out.
    format!(
        "SELECT id, EXISTS (SELECT 1 FROM sessions WHERE user_id = {user} AND id <> {session} \
         AND CASE WHEN {device} IS NOT NULL THEN device_id = {device} ELSE device_id IS NULL \
         AND (user_agent = {agent} OR (user_agent IS NULL AND {agent} IS NULL)) \
         AND (ip = {ip} OR (ip IS NULL AND {ip} IS NULL)) END), \
         EXISTS (SELECT 1 FROM sessions WHERE user_id = {user} AND id <> {session}) \
         FROM (SELECT {session} AS id, {created} AS created_at UNION ALL \
         SELECT id, created_at FROM sessions WHERE user_id = {user} AND id <> {session} \
         AND revoked_at IS NULL AND idle_expires_at > {now} AND absolute_expires_at > {now}) \
         AS live ORDER BY created_at DESC, id DESC"
    )
}

/// The context from the `live` sessions read: the new `session` is never the one to go,
/// whatever the clocks say, so the others are trimmed to the newest `keep - 1`.
fn sign_in_context_of(session: &Session, live: Vec<LiveSession>, keep: usize) -> SignInContext {
    let (device_seen, signed_in_before) = live
        .first()
        .map_or((false, false), |&(_, seen, before)| (seen, before));
    let others = live
        .into_iter()
        .map(|(id, _, _)| SessionId::from_uuid(id))
        .filter(|id| *id != session.id);
    SignInContext {
        device_seen,
        signed_in_before,
        excess: others.skip(keep.saturating_sub(1)).collect(),
    }
}

pub(crate) async fn touch_session<'e, E>(
    db: E,
    id: SessionId,
    now: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
) -> StoreResult<()>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    sqlx::query(
        "UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 \
         WHERE id = $1 AND revoked_at IS NULL",
    )
    .bind(id.as_uuid())
    .bind(now)
    .bind(idle_expires_at)
    .execute(db)
    .await?;
    Ok(())
}
