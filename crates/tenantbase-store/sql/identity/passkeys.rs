//! The statements on passkeys and WebAuthn ceremonies.

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::id::{PasskeyId, SessionId, UserId};
use tenantbase_domain::model::PasskeyInfo;
use tenantbase_store::identity::PasskeysUnit;
use tenantbase_store::identity::passkeys::{
    CeremonyPurpose, NewCeremony, NewPasskey, PASSKEY_COLUMNS, PasskeyRow, PasskeyUse,
    StoredPasskey,
};
use tenantbase_store::{StoreError, StoreResult};

use crate::dialect::Db;
use crate::sql::identity::retention::{SWEEP_ON_INSERT, delete_expired};
use crate::sql::platform::PlatformTx;

#[async_trait]
impl PasskeysUnit for PlatformTx {
    async fn insert_passkey(&mut self, passkey: NewPasskey) -> StoreResult<PasskeyInfo> {
        let info = passkey.info;
        let created_at = info.created_at.trunc_subsecs(6);
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, sign_count, \
             backup_eligible, backed_up, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(info.id.as_uuid())
        .bind(info.user_id.as_uuid())
        .bind(&passkey.credential_id)
        .bind(&info.name)
        .bind(&passkey.credential)
        .bind(i64::from(passkey.sign_count))
        .bind(info.backup_eligible)
        .bind(info.backed_up)
        .bind(created_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(PasskeyInfo { created_at, ..info })
    }

    async fn rename_passkey(
        &mut self,
        user: UserId,
        id: PasskeyId,
        name: &str,
    ) -> StoreResult<PasskeyInfo> {
        let rows: Vec<PasskeyRow> = sqlx::query_as(&format!(
            "UPDATE passkeys SET name = $3 WHERE id = $1 AND user_id = $2 \
             RETURNING {PASSKEY_COLUMNS}"
        ))
        .bind(id.as_uuid())
        .bind(user.as_uuid())
        .bind(name)
        .fetch_all(&mut *self.tx)
        .await?;
        let row = rows.into_iter().next().ok_or(StoreError::NotFound)?;
        Ok(StoredPasskey::from(row).info)
    }

    async fn delete_passkey(&mut self, user: UserId, id: PasskeyId) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
            .bind(id.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    async fn passkey_count(&mut self, user: UserId) -> StoreResult<u64> {
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
            .bind(user.as_uuid())
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn passkey_by_credential_id(
        &mut self,
        credential_id: &str,
    ) -> StoreResult<Option<StoredPasskey>> {
        let row: Option<PasskeyRow> = sqlx::query_as(&format!(
            "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(StoredPasskey::from))
    }

    async fn record_passkey_use(&mut self, used: PasskeyUse) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE passkeys SET credential = $2, sign_count = $3, backup_eligible = $4, \
             backed_up = $5, last_used_at = $6 \
             WHERE id = $1 AND (sign_count < $3 OR (sign_count = 0 AND $3 = 0))",
        )
        .bind(used.id.as_uuid())
        .bind(&used.credential)
        .bind(i64::from(used.sign_count))
        .bind(used.backup_eligible)
        .bind(used.backed_up)
        .bind(used.used_at.trunc_subsecs(6))
        .execute(&mut *self.tx)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    async fn insert_ceremony(&mut self, ceremony: NewCeremony) -> StoreResult<()> {
        let now = Utc::now().trunc_subsecs(6);
        delete_expired(
            &mut *self.tx,
            "webauthn_ceremonies",
            "challenge_hash",
            "expires_at",
            now,
            SWEEP_ON_INSERT,
        )
        .await?;
        sqlx::query(
            "INSERT INTO webauthn_ceremonies \
             (challenge_hash, user_id, session_id, mfa_challenge_hash, purpose, state, \
              created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&ceremony.challenge_hash)
        .bind(ceremony.user_id.map(|id| id.as_uuid()))
        .bind(ceremony.session_id.map(|id| id.as_uuid()))
        .bind(&ceremony.mfa_challenge_hash)
        .bind(ceremony.purpose.as_str())
        .bind(&ceremony.state)
        .bind(now)
        .bind(ceremony.expires_at.trunc_subsecs(6))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn take_ceremony(
        &mut self,
        challenge_hash: &str,
        purpose: CeremonyPurpose,
        user: Option<UserId>,
        session: Option<SessionId>,
        mfa_challenge_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        // Deleted whatever its fate: a challenge is answered once, right or wrong.
        let taken: Vec<TakenCeremony> = sqlx::query_as(
            "DELETE FROM webauthn_ceremonies WHERE challenge_hash = $1 \
             RETURNING user_id, session_id, mfa_challenge_hash, purpose, state, expires_at",
        )
        .bind(challenge_hash)
        .fetch_all(&mut *self.tx)
        .await?;
        let owner = (
            user.map(|id| id.as_uuid()),
            session.map(|id| id.as_uuid()),
            mfa_challenge_hash,
        );
        Ok(taken
            .into_iter()
            .find(|taken| {
                (
                    taken.user_id,
                    taken.session_id,
                    taken.mfa_challenge_hash.as_deref(),
                ) == owner
                    && taken.purpose == purpose.as_str()
                    && taken.expires_at > now
            })
            .map(|taken| taken.state))
    }
}

/// A ceremony as `take_ceremony` deletes it, to be checked against the answer's.
#[derive(sqlx::FromRow)]
struct TakenCeremony {
    user_id: Option<uuid::Uuid>,
    session_id: Option<uuid::Uuid>,
    mfa_challenge_hash: Option<String>,
    purpose: String,
    state: String,
    expires_at: DateTime<Utc>,
}

pub(crate) async fn passkeys<'e, E>(db: E, user: UserId) -> StoreResult<Vec<StoredPasskey>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<PasskeyRow> = sqlx::query_as(&format!(
        "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
    ))
    .bind(user.as_uuid())
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(StoredPasskey::from).collect())
}
