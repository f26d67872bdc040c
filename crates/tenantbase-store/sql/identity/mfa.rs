//! The statements on second factors, backup codes, emailed codes, sign-in challenges and
//! trusted devices.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, SubsecRound, Utc};
use tenantbase_domain::id::{TrustedDeviceId, UserId};
use tenantbase_domain::model::{MfaChallenge, MfaFactor, MfaKind, TrustedDevice, User};
use tenantbase_store::StoreResult;
use tenantbase_store::identity::MfaUnit;
use tenantbase_store::identity::mfa::{
    ChallengedUser, ChallengedUserRow, EmailCodePurpose, MFA_CHALLENGE_COLUMNS, MFA_FACTOR_COLUMNS,
    MfaChallengeRow, MfaFactorRow, NewMfaChallenge, NewTrustedDevice, TRUSTED_DEVICE_COLUMNS,
    TrustedDeviceRow,
};
use tenantbase_store::identity::users::USER_COLUMNS;

use crate::dialect::{self, Db};
use crate::sql::platform::PlatformTx;

const TOTP: &str = "totp";

#[async_trait]
impl MfaUnit for PlatformTx {
    async fn mfa_factors_in_unit(&mut self, user_id: UserId) -> StoreResult<Vec<MfaFactor>> {
        mfa_factors(&mut *self.tx, user_id).await
    }

    async fn consume_challenge_with_user(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ChallengedUser>> {
        static QUERY: LazyLock<String> = LazyLock::new(|| {
            let (update, used) = dialect::updated_row(
                ("mfa_challenges", "token_hash = $1"),
                "SET used_at = $2 WHERE used_at IS NULL AND expires_at > $2",
                MFA_CHALLENGE_COLUMNS,
            );
            let user: Vec<String> = USER_COLUMNS
                .split(',')
                .map(|column| format!("u.{}", column.trim()))
                .collect();
            format!(
                "{update} SELECT c.device_id AS challenge_device_id, \
                 c.first_factor AS challenge_first_factor, \
                 c.identity_id AS challenge_identity_id, c.expires_at AS challenge_expires_at, \
                 {}, f.kind AS factor_kind, f.sealed_secret AS factor_sealed_secret, \
                 f.confirmed_at AS factor_confirmed_at, \
                 f.last_used_step AS factor_last_used_step, f.created_at AS factor_created_at \
                 FROM {used} c JOIN users u ON u.id = c.user_id \
                 LEFT JOIN mfa_factors f ON f.user_id = u.id ORDER BY f.kind {}",
                user.join(", "),
                dialect::user_row_lock_of("u")
            )
        });
        let rows: Vec<ChallengedUserRow> = sqlx::query_as(&QUERY)
            .bind(token_hash)
            .bind(now)
            .fetch_all(&mut *self.tx)
            .await?;
        let factors = rows
            .iter()
            .filter_map(|row| row.user.factor())
            .map(MfaFactor::try_from)
            .collect::<StoreResult<Vec<_>>>()?;
        if let Some(row) = rows.first() {
            // Locked with the challenge: the session this second step opens needs it.
            self.locked_user = Some(UserId::from_uuid(row.user.user.id));
        }
        Ok(rows.into_iter().next().map(|row| ChallengedUser {
            challenge: row.challenge(),
            user: User::from(row.user.user),
            factors,
        }))
    }

    async fn put_pending_totp(
        &mut self,
        user_id: UserId,
        sealed_secret: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        // A confirmed factor is left alone: the upsert's WHERE makes it a no-op.
        let written = sqlx::query(&format!(
            "INSERT INTO mfa_factors ({MFA_FACTOR_COLUMNS}) VALUES ($1, $2, $3, NULL, NULL, $4) \
             ON CONFLICT (user_id, kind) DO UPDATE SET sealed_secret = excluded.sealed_secret, \
             created_at = excluded.created_at, last_used_step = NULL \
             WHERE mfa_factors.confirmed_at IS NULL"
        ))
        .bind(user_id.as_uuid())
        .bind(TOTP)
        .bind(sealed_secret)
        .bind(now.trunc_subsecs(6))
        .execute(&mut *self.tx)
        .await?;
        Ok(written.rows_affected() > 0)
    }

    async fn confirm_totp(
        &mut self,
        user_id: UserId,
        step: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let confirmed = sqlx::query(
            "UPDATE mfa_factors SET confirmed_at = $3, last_used_step = $4 \
             WHERE user_id = $1 AND kind = $2 AND confirmed_at IS NULL",
        )
        .bind(user_id.as_uuid())
        .bind(TOTP)
        .bind(now.trunc_subsecs(6))
        .bind(step)
        .execute(&mut *self.tx)
        .await?;
        Ok(confirmed.rows_affected() > 0)
    }

    async fn use_totp_step(&mut self, user_id: UserId, step: i64) -> StoreResult<bool> {
        let used = sqlx::query(
            "UPDATE mfa_factors SET last_used_step = $3 \
             WHERE user_id = $1 AND kind = $2 AND confirmed_at IS NOT NULL \
             AND (last_used_step IS NULL OR last_used_step < $3)",
        )
        .bind(user_id.as_uuid())
        .bind(TOTP)
        .bind(step)
        .execute(&mut *self.tx)
        .await?;
        Ok(used.rows_affected() > 0)
    }

    async fn add_mfa_factor(
        &mut self,
        user_id: UserId,
        kind: MfaKind,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let now = now.trunc_subsecs(6);
        let added = sqlx::query(&format!(
            "INSERT INTO mfa_factors ({MFA_FACTOR_COLUMNS}) VALUES ($1, $2, NULL, $3, NULL, $3) \
             ON CONFLICT (user_id, kind) DO NOTHING"
        ))
        .bind(user_id.as_uuid())
        .bind(kind.as_str())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(added.rows_affected() > 0)
    }

    async fn delete_mfa_factor(&mut self, user_id: UserId, kind: MfaKind) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1 AND kind = $2")
            .bind(user_id.as_uuid())
            .bind(kind.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn replace_backup_codes(
        &mut self,
        user_id: UserId,
        hashes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query("DELETE FROM mfa_backup_codes WHERE user_id = $1")
            .bind(user_id.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        for hash in hashes {
            sqlx::query(
                "INSERT INTO mfa_backup_codes (user_id, code_hash, created_at, used_at) \
                 VALUES ($1, $2, $3, NULL)",
            )
            .bind(user_id.as_uuid())
            .bind(hash)
            .bind(now.trunc_subsecs(6))
            .execute(&mut *self.tx)
            .await?;
        }
        Ok(())
    }

    async fn unused_backup_codes(&mut self, user_id: UserId) -> StoreResult<Vec<String>> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT code_hash FROM mfa_backup_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id.as_uuid())
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.into_iter().map(|(hash,)| hash).collect())
    }

    async fn use_backup_code(
        &mut self,
        user_id: UserId,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let used = sqlx::query(
            "UPDATE mfa_backup_codes SET used_at = $3 \
             WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
        )
        .bind(user_id.as_uuid())
        .bind(code_hash)
        .bind(now.trunc_subsecs(6))
        .execute(&mut *self.tx)
        .await?;
        Ok(used.rows_affected() > 0)
    }

    async fn insert_mfa_challenge(&mut self, challenge: NewMfaChallenge) -> StoreResult<()> {
        let now = Utc::now().trunc_subsecs(6);
        // The user's used and expired challenges serve nothing any more: they go here,
        // so the table holds a few rows per user at most.
        sqlx::query(
            "DELETE FROM mfa_challenges \
             WHERE user_id = $1 AND (used_at IS NOT NULL OR expires_at <= $2)",
        )
        .bind(challenge.user_id.as_uuid())
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query(
            "INSERT INTO mfa_challenges (token_hash, user_id, device_id, first_factor, \
             identity_id, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
        )
        .bind(&challenge.token_hash)
        .bind(challenge.user_id.as_uuid())
        .bind(&challenge.device_id)
        .bind(&challenge.first_factor)
        .bind(challenge.identity_id.map(|id| id.as_uuid()))
        .bind(now)
        .bind(challenge.expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn consume_mfa_challenge(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MfaChallenge>> {
        let rows: Vec<MfaChallengeRow> = sqlx::query_as(&format!(
            "UPDATE mfa_challenges SET used_at = $2 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             RETURNING {MFA_CHALLENGE_COLUMNS}"
        ))
        .bind(token_hash)
        .bind(now)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows.into_iter().next().map(MfaChallenge::from))
    }

    async fn put_email_code(
        &mut self,
        user_id: UserId,
        purpose: EmailCodePurpose,
        code_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        sqlx::query(&format!(
            "INSERT INTO {} (user_id, code_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id) DO UPDATE SET code_hash = excluded.code_hash, \
             created_at = excluded.created_at, expires_at = excluded.expires_at",
            purpose.table()
        ))
        .bind(user_id.as_uuid())
        .bind(code_hash)
        .bind(Utc::now().trunc_subsecs(6))
        .bind(expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn email_code(
        &mut self,
        user_id: UserId,
        purpose: EmailCodePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let row: Option<(String,)> = sqlx::query_as(&format!(
            "SELECT code_hash FROM {} WHERE user_id = $1 AND expires_at > $2",
            purpose.table()
        ))
        .bind(user_id.as_uuid())
        .bind(now)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(|(hash,)| hash))
    }

    async fn use_email_code(
        &mut self,
        user_id: UserId,
        purpose: EmailCodePurpose,
        code_hash: &str,
    ) -> StoreResult<bool> {
        let used = sqlx::query(&format!(
            "DELETE FROM {} WHERE user_id = $1 AND code_hash = $2",
            purpose.table()
        ))
        .bind(user_id.as_uuid())
        .bind(code_hash)
        .execute(&mut *self.tx)
        .await?;
        Ok(used.rows_affected() > 0)
    }

    async fn trusted_device_by_token(
        &mut self,
        token_hash: &str,
    ) -> StoreResult<Option<TrustedDevice>> {
        let row: Option<TrustedDeviceRow> = sqlx::query_as(&format!(
            "SELECT {TRUSTED_DEVICE_COLUMNS} FROM trusted_devices WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(row.map(TrustedDevice::from))
    }

    async fn insert_trusted_device(
        &mut self,
        device: NewTrustedDevice,
        keep: usize,
    ) -> StoreResult<()> {
        let now = Utc::now().trunc_subsecs(6);
        sqlx::query(
            "DELETE FROM trusted_devices WHERE user_id = $1 \
             AND (device_id = $2 OR expires_at <= $3 OR id NOT IN (\
             SELECT id FROM trusted_devices \
             WHERE user_id = $1 AND device_id <> $2 AND expires_at > $3 \
             ORDER BY created_at DESC, id DESC LIMIT $4))",
        )
        .bind(device.user_id.as_uuid())
        .bind(&device.device_id)
        .bind(now)
        .bind(i64::try_from(keep.saturating_sub(1)).unwrap_or(i64::MAX))
        .execute(&mut *self.tx)
        .await?;
        sqlx::query(
            "INSERT INTO trusted_devices \
             (id, user_id, token_hash, device_id, device_label, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(device.id.as_uuid())
        .bind(device.user_id.as_uuid())
        .bind(&device.token_hash)
        .bind(&device.device_id)
        .bind(&device.device_label)
        .bind(now)
        .bind(device.expires_at)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn delete_trusted_device(
        &mut self,
        user_id: UserId,
        id: TrustedDeviceId,
    ) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1 AND id = $2")
            .bind(user_id.as_uuid())
            .bind(id.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn delete_trusted_devices(&mut self, user_id: UserId) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM trusted_devices WHERE user_id = $1")
            .bind(user_id.as_uuid())
            .execute(&mut *self.tx)
            .await?;
        Ok(deleted.rows_affected())
    }

    async fn delete_mfa_challenges(
        &mut self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64> {
        let deleted: Vec<(Option<DateTime<Utc>>, DateTime<Utc>)> = sqlx::query_as(
            "DELETE FROM mfa_challenges WHERE user_id = $1 RETURNING used_at, expires_at",
        )
        .bind(user_id.as_uuid())
        .fetch_all(&mut *self.tx)
        .await?;
        let usable = deleted
            .iter()
            .filter(|(used, expires)| used.is_none() && *expires > now);
        Ok(usable.count() as u64)
    }
}

pub(crate) async fn mfa_factors<'e, E>(db: E, user_id: UserId) -> StoreResult<Vec<MfaFactor>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<MfaFactorRow> = sqlx::query_as(&format!(
        "SELECT {MFA_FACTOR_COLUMNS} FROM mfa_factors WHERE user_id = $1 ORDER BY kind"
    ))
    .bind(user_id.as_uuid())
    .fetch_all(db)
    .await?;
    rows.into_iter().map(MfaFactor::try_from).collect()
}

pub(crate) async fn backup_codes_left<'e, E>(db: E, user_id: UserId) -> StoreResult<u64>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let (count,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM mfa_backup_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id.as_uuid())
    .fetch_one(db)
    .await?;
    Ok(u64::try_from(count).unwrap_or(0))
}

pub(crate) async fn mfa_challenge<'e, E>(
    db: E,
    token_hash: &str,
    now: DateTime<Utc>,
) -> StoreResult<Option<MfaChallenge>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let row: Option<MfaChallengeRow> = sqlx::query_as(&format!(
        "SELECT {MFA_CHALLENGE_COLUMNS} FROM mfa_challenges \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2"
    ))
    .bind(token_hash)
    .bind(now)
    .fetch_optional(db)
    .await?;
    Ok(row.map(MfaChallenge::from))
}

pub(crate) async fn trusted_devices<'e, E>(
    db: E,
    user_id: UserId,
    now: DateTime<Utc>,
) -> StoreResult<Vec<TrustedDevice>>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let rows: Vec<TrustedDeviceRow> = sqlx::query_as(&format!(
        "SELECT {TRUSTED_DEVICE_COLUMNS} FROM trusted_devices \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, id DESC"
    ))
    .bind(user_id.as_uuid())
    .bind(now)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(TrustedDevice::from).collect())
}
