//! The statements on token signing keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::model::SigningKeyRow;
use tenantbase_store::StoreResult;
use tenantbase_store::identity::SigningKeysUnit;
use tenantbase_store::identity::signing_keys::{SIGNING_KEY_COLUMNS, SigningKeySqlRow};

use crate::dialect::Db;
use crate::sql::Conn;
use crate::sql::platform::PlatformTx;

#[async_trait]
impl SigningKeysUnit for PlatformTx {
    async fn insert_signing_key(&mut self, key: SigningKeyRow) -> StoreResult<()> {
        insert_signing_key(&mut self.tx, key).await
    }

    async fn retire_signing_key(&mut self, kid: &str, now: DateTime<Utc>) -> StoreResult<()> {
        retire_signing_key(&mut self.tx, kid, now).await
    }
}

pub(crate) async fn insert_signing_key(conn: &mut Conn, key: SigningKeyRow) -> StoreResult<()> {
    sqlx::query(&format!(
        "INSERT INTO signing_keys ({}) VALUES ($1, $2, $3, $4, $5)",
        SIGNING_KEY_COLUMNS
    ))
    .bind(&key.kid)
    .bind(&key.public_key)
    .bind(&key.encrypted_private_key)
    .bind(key.created_at)
    .bind(key.retired_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn retire_signing_key(
    conn: &mut Conn,
    kid: &str,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    sqlx::query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1 AND retired_at IS NULL")
        .bind(kid)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub(crate) async fn signing_keys<'e, E>(db: E) -> StoreResult<Vec<SigningKeyRow>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<SigningKeySqlRow> = sqlx::query_as(&format!(
        "SELECT {} FROM signing_keys ORDER BY created_at",
        SIGNING_KEY_COLUMNS
    ))
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(SigningKeyRow::from).collect())
}
