//! The identity statements both dialects accept, written once and instantiated per
//! backend by `identity_statements!` (beside `shared_statements!`, whose unit of work
//! delegates to them).

/// Column lists of the identity tables.
pub mod columns {
    pub const USER: &str =
        "id, email, display_name, password_hash, email_verified, is_guest, created_at";
    pub const SESSION: &str = "id, user_id, device_id, device_label, user_agent, ip, amr, created_at, \
         last_seen_at, idle_expires_at, absolute_expires_at, revoked_at";
    pub const SIGNING_KEY: &str = "kid, public_key, encrypted_private_key, created_at, retired_at";
}

/// Instantiates the identity statements for `$db` as a module named `identity_sql`.
#[macro_export]
macro_rules! identity_statements {
    ($db:ty) => {
        /// The identity statements shared by both backends, for this one.
        pub(crate) mod identity_sql {
            use chrono::{DateTime, SubsecRound, Utc};
            use tenantbase_domain::id::{SessionId, UserId};
            use tenantbase_store::identity::{NewSession, NewUser, Rotation, Session, SigningKeyRow, User};
            use tenantbase_store::shared_identity::columns;
            use tenantbase_store::sql::{SessionRow, SigningKeySqlRow, UserRow};
            use tenantbase_store::{StoreError, StoreResult};

            type Db = $db;
            type Conn = <Db as sqlx::Database>::Connection;

            pub async fn create_user(conn: &mut Conn, user: NewUser) -> StoreResult<User> {
                // Microseconds: what both databases keep, so the returned value equals a re-read.
                let now = Utc::now().trunc_subsecs(6);
                sqlx::query(
                    "INSERT INTO users (id, email, display_name, password_hash, email_verified, is_guest, \
                     created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                )
                .bind(user.id.as_uuid())
                .bind(&user.email)
                .bind(&user.display_name)
                .bind(&user.password_hash)
                .bind(false)
                .bind(user.is_guest)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                Ok(User {
                    id: user.id,
                    email: user.email,
                    display_name: user.display_name,
                    password_hash: user.password_hash,
                    email_verified: false,
                    is_guest: user.is_guest,
                    created_at: now,
                })
            }

            pub async fn create_session(conn: &mut Conn, new: NewSession, refresh_hash: &str) -> StoreResult<Session> {
                // Microseconds: what both databases keep, so the returned value equals a re-read.
                let now = Utc::now().trunc_subsecs(6);
                let amr = serde_json::to_string(&new.amr).map_err(|e| StoreError::Invalid(e.to_string()))?;
                sqlx::query(&format!(
                    "INSERT INTO sessions ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9, $10, NULL)",
                    columns::SESSION
                ))
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
                .execute(&mut *conn)
                .await?;
                insert_refresh_token(conn, refresh_hash, new.id, now).await?;
                Ok(Session {
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
                })
            }

            async fn insert_refresh_token(conn: &mut Conn, hash: &str, session: SessionId, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)")
                    .bind(hash)
                    .bind(session.as_uuid())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            pub async fn rotate_refresh_token(
                conn: &mut Conn,
                old_hash: &str,
                new_hash: &str,
                grace: std::time::Duration,
                now: DateTime<Utc>,
            ) -> StoreResult<Rotation> {
                let used: Vec<(uuid::Uuid,)> = sqlx::query_as(
                    "UPDATE refresh_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL RETURNING session_id",
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
                    Some((session, Some(used_at))) if now - used_at < grace => Rotation::RaceLost(SessionId::from_uuid(session)),
                    Some((session, _)) => Rotation::Reused(SessionId::from_uuid(session)),
                })
            }

            pub async fn revoke_session(conn: &mut Conn, id: SessionId, reason: &str, now: DateTime<Utc>) -> StoreResult<bool> {
                let revoked = sqlx::query(
                    "UPDATE sessions SET revoked_at = $2, revoked_reason = $3 WHERE id = $1 AND revoked_at IS NULL",
                )
                .bind(id.as_uuid())
                .bind(now)
                .bind(reason)
                .execute(&mut *conn)
                .await?;
                Ok(revoked.rows_affected() == 1)
            }

            pub async fn revoke_user_sessions(
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

            pub async fn issue_user_token(
                conn: &mut Conn,
                user_id: UserId,
                purpose: &str,
                token_hash: &str,
                expires_at: DateTime<Utc>,
            ) -> StoreResult<()> {
                let now = Utc::now().trunc_subsecs(6);
                sqlx::query(
                    "UPDATE user_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
                )
                .bind(user_id.as_uuid())
                .bind(purpose)
                .bind(now)
                .execute(&mut *conn)
                .await?;
                sqlx::query(
                    "INSERT INTO user_tokens (token_hash, user_id, purpose, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(token_hash)
                .bind(user_id.as_uuid())
                .bind(purpose)
                .bind(now)
                .bind(expires_at)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            pub async fn consume_user_token(
                conn: &mut Conn,
                token_hash: &str,
                purpose: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<Option<UserId>> {
                let used: Vec<(uuid::Uuid,)> = sqlx::query_as(
                    "UPDATE user_tokens SET used_at = $3 \
                     WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3 \
                     RETURNING user_id",
                )
                .bind(token_hash)
                .bind(purpose)
                .bind(now)
                .fetch_all(&mut *conn)
                .await?;
                Ok(used.into_iter().next().map(|(id,)| UserId::from_uuid(id)))
            }

            pub async fn mark_email_verified(conn: &mut Conn, user_id: UserId, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE users SET email_verified = $2, updated_at = $3 WHERE id = $1")
                    .bind(user_id.as_uuid())
                    .bind(true)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            pub async fn set_password_hash(conn: &mut Conn, user_id: UserId, hash: &str, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(user_id.as_uuid())
                    .bind(hash)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            pub async fn upgrade_guest(
                conn: &mut Conn,
                user_id: UserId,
                email: &str,
                hash: &str,
                now: DateTime<Utc>,
            ) -> StoreResult<User> {
                let upgraded = sqlx::query(
                    "UPDATE users SET email = $2, password_hash = $3, is_guest = $4, updated_at = $5 \
                     WHERE id = $1 AND is_guest = $6",
                )
                .bind(user_id.as_uuid())
                .bind(email)
                .bind(hash)
                .bind(false)
                .bind(now)
                .bind(true)
                .execute(&mut *conn)
                .await?;
                if upgraded.rows_affected() == 0 {
                    return Err(StoreError::NotFound);
                }
                user_by_id(&mut *conn, user_id).await
            }

            pub async fn insert_signing_key(conn: &mut Conn, key: SigningKeyRow) -> StoreResult<()> {
                sqlx::query(&format!("INSERT INTO signing_keys ({}) VALUES ($1, $2, $3, $4, $5)", columns::SIGNING_KEY))
                    .bind(&key.kid)
                    .bind(&key.public_key)
                    .bind(&key.encrypted_private_key)
                    .bind(key.created_at)
                    .bind(key.retired_at)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            pub async fn retire_signing_key(conn: &mut Conn, kid: &str, now: DateTime<Utc>) -> StoreResult<()> {
                sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL")
                    .bind(kid)
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            }

            pub async fn user_by_email<'e, E>(db: E, email: &str) -> StoreResult<Option<User>>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {} FROM users WHERE email = $1", columns::USER))
                    .bind(email)
                    .fetch_optional(db)
                    .await?;
                Ok(row.map(User::from))
            }

            pub async fn lock_user(conn: &mut Conn, id: UserId) -> StoreResult<User> {
                let row: UserRow = sqlx::query_as(&format!(
                    "SELECT {} FROM users WHERE id = $1 {}",
                    columns::USER,
                    super::USER_ROW_LOCK
                ))
                .bind(id.as_uuid())
                .fetch_one(&mut *conn)
                .await?;
                Ok(User::from(row))
            }

            pub async fn user_by_id<'e, E>(db: E, id: UserId) -> StoreResult<User>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let row: UserRow = sqlx::query_as(&format!("SELECT {} FROM users WHERE id = $1", columns::USER))
                    .bind(id.as_uuid())
                    .fetch_one(db)
                    .await?;
                Ok(User::from(row))
            }

            pub async fn session_by_id<'e, E>(db: E, id: SessionId) -> StoreResult<Session>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let row: SessionRow = sqlx::query_as(&format!("SELECT {} FROM sessions WHERE id = $1", columns::SESSION))
                    .bind(id.as_uuid())
                    .fetch_one(db)
                    .await?;
                Session::try_from(row)
            }

            pub async fn live_sessions<'e, E>(db: E, user_id: UserId, now: DateTime<Utc>) -> StoreResult<Vec<Session>>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let rows: Vec<SessionRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL \
                     AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY created_at DESC, id DESC",
                    columns::SESSION
                ))
                .bind(user_id.as_uuid())
                .bind(now)
                .fetch_all(db)
                .await?;
                rows.into_iter().map(Session::try_from).collect()
            }

            pub async fn touch_session<'e, E>(db: E, id: SessionId, now: DateTime<Utc>, idle_expires_at: DateTime<Utc>) -> StoreResult<()>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                sqlx::query("UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id.as_uuid())
                    .bind(now)
                    .bind(idle_expires_at)
                    .execute(db)
                    .await?;
                Ok(())
            }

            pub async fn user_token_owner<'e, E>(db: E, token_hash: &str, purpose: &str, now: DateTime<Utc>) -> StoreResult<Option<UserId>>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let owner: Option<(uuid::Uuid,)> = sqlx::query_as(
                    "SELECT user_id FROM user_tokens \
                     WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3",
                )
                .bind(token_hash)
                .bind(purpose)
                .bind(now)
                .fetch_optional(db)
                .await?;
                Ok(owner.map(|(id,)| UserId::from_uuid(id)))
            }

            pub async fn signing_keys<'e, E>(db: E) -> StoreResult<Vec<SigningKeyRow>>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let rows: Vec<SigningKeySqlRow> =
                    sqlx::query_as(&format!("SELECT {} FROM signing_keys ORDER BY created_at", columns::SIGNING_KEY))
                        .fetch_all(db)
                        .await?;
                Ok(rows.into_iter().map(SigningKeyRow::from).collect())
            }
        }
    };
}
