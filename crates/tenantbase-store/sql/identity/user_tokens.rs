//! The statements on single-use tokens.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::id::UserId;
use tenantbase_store::StoreResult;
use tenantbase_store::identity::UserTokensUnit;

use crate::dialect::Db;
use crate::sql::Conn;
use crate::sql::platform::PlatformTx;

#[async_trait]
impl UserTokensUnit for PlatformTx {
    async fn issue_user_token(
        &mut self,
        user_id: UserId,
        purpose: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        issue_user_token(&mut self.tx, user_id, purpose, token_hash, expires_at).await
    }

    async fn add_user_token(
        &mut self,
        user_id: UserId,
        purpose: &str,
        token_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        insert_user_token(&mut self.tx, user_id, purpose, token_hash, expires_at).await
    }

    async fn end_user_tokens(
        &mut self,
        user_id: UserId,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        end_user_tokens(&mut self.tx, user_id, purpose, now).await
    }

    async fn consume_user_token(
        &mut self,
        token_hash: &str,
        purpose: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<UserId>> {
        consume_user_token(&mut self.tx, token_hash, purpose, now).await
    }
}

pub(crate) async fn issue_user_token(
    conn: &mut Conn,
    user_id: UserId,
    purpose: &str,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    end_user_tokens(conn, user_id, purpose, Utc::now()).await?;
    insert_user_token(conn, user_id, purpose, token_hash, expires_at).await
}

pub(crate) async fn end_user_tokens(
    conn: &mut Conn,
    user_id: UserId,
    purpose: &str,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    let ended = sqlx::query(
        "UPDATE user_tokens SET used_at = $3 \
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(user_id.as_uuid())
    .bind(purpose)
    .bind(now.trunc_subsecs(6))
    .execute(&mut *conn)
    .await?;
    Ok(ended.rows_affected())
}

async fn insert_user_token(
    conn: &mut Conn,
    user_id: UserId,
    purpose: &str,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_tokens (token_hash, user_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash)
    .bind(user_id.as_uuid())
    .bind(purpose)
    .bind(Utc::now().trunc_subsecs(6))
    .bind(expires_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn consume_user_token(
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

pub(crate) async fn user_token_owner<'e, E>(
    db: E,
    token_hash: &str,
    purpose: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<UserId>>
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
