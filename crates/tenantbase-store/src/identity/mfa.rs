//! Second factors, backup codes, emailed codes, pending sign-in challenges and trusted
//! devices: changed (and read, when a change depends on them) inside a unit of work
//! (`MfaUnit`), listed outside one (`MfaStore`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{IdentityId, TrustedDeviceId, UserId};
use tenantbase_domain::model::{MfaChallenge, MfaFactor, MfaKind, TrustedDevice, User};

use crate::{StoreError, StoreResult};

#[derive(Debug, Clone)]
pub struct NewMfaChallenge {
    pub token_hash: String,
    pub user_id: UserId,
    pub device_id: Option<String>,
    pub first_factor: String,
    /// The linked identity a federated first step came through.
    pub identity_id: Option<IdentityId>,
    pub expires_at: DateTime<Utc>,
}

/// What an emailed code was sent for. Each purpose keeps its own outstanding code, so a
/// step-up's send does not cancel a sign-in's code, nor the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailCodePurpose {
    /// The second step of a sign-in.
    SignIn,
    /// A signed-in user's step-up (reauthentication).
    StepUp,
}

impl EmailCodePurpose {
    /// The table that keeps this purpose's codes (migration 0018 added the step-up one
    /// beside the sign-in one, so the binary before it keeps working).
    pub fn table(self) -> &'static str {
        match self {
            EmailCodePurpose::SignIn => "mfa_email_codes",
            EmailCodePurpose::StepUp => "mfa_step_up_email_codes",
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewTrustedDevice {
    pub id: TrustedDeviceId,
    pub user_id: UserId,
    pub token_hash: String,
    pub device_id: String,
    pub device_label: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// Second factors' part of a unit of work.
#[async_trait]
pub trait MfaUnit: Send {
    /// The user's factors, pending ones included.
    async fn mfa_factors_in_unit(&mut self, user_id: UserId) -> StoreResult<Vec<MfaFactor>>;

    /// What the second step of a code sign-in starts from, in one call to the database:
    /// uses up an unused, unexpired challenge (as `consume_mfa_challenge`) and reads its
    /// user with their factors, pending ones included. `None` if there is no such
    /// challenge.
    async fn consume_challenge_with_user(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ChallengedUser>>;

    /// Stores a pending TOTP secret, replacing a pending one; `false` (nothing written)
    /// when a confirmed TOTP factor exists.
    async fn put_pending_totp(
        &mut self,
        user_id: UserId,
        sealed_secret: &[u8],
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Marks the pending TOTP factor confirmed, with `step` as its last used step.
    async fn confirm_totp(
        &mut self,
        user_id: UserId,
        step: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Records `step` as used if it is later than the last used one; `false` if it is not
    /// (a replay) or there is no confirmed TOTP factor.
    async fn use_totp_step(&mut self, user_id: UserId, step: i64) -> StoreResult<bool>;

    /// Adds an already confirmed factor without a secret (email); `false` if present.
    async fn add_mfa_factor(
        &mut self,
        user_id: UserId,
        kind: MfaKind,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Removes a factor; `false` if there was none.
    async fn delete_mfa_factor(&mut self, user_id: UserId, kind: MfaKind) -> StoreResult<bool>;

    /// Replaces every backup code of the user with `hashes`.
    async fn replace_backup_codes(
        &mut self,
        user_id: UserId,
        hashes: &[String],
        now: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The hashes of the user's unused backup codes.
    async fn unused_backup_codes(&mut self, user_id: UserId) -> StoreResult<Vec<String>>;

    /// Marks one unused backup code used; `false` if it was used meanwhile.
    async fn use_backup_code(
        &mut self,
        user_id: UserId,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;

    /// Stores a challenge, dropping the user's used and expired ones.
    async fn insert_mfa_challenge(&mut self, challenge: NewMfaChallenge) -> StoreResult<()>;

    /// Uses up an unused, unexpired challenge; `None` if there is no such challenge.
    async fn consume_mfa_challenge(
        &mut self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MfaChallenge>>;

    /// Stores the user's one outstanding emailed code for `purpose`, replacing any older
    /// one for the same purpose.
    async fn put_email_code(
        &mut self,
        user_id: UserId,
        purpose: EmailCodePurpose,
        code_hash: &str,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()>;

    /// The hash of the user's unexpired emailed code for `purpose`, if any.
    async fn email_code(
        &mut self,
        user_id: UserId,
        purpose: EmailCodePurpose,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;

    /// Uses up the emailed code for `purpose` with this hash; `false` if it was used
    /// meanwhile.
    async fn use_email_code(
        &mut self,
        user_id: UserId,
        purpose: EmailCodePurpose,
        code_hash: &str,
    ) -> StoreResult<bool>;

    /// A trusted device by its token's hash, expired or not.
    async fn trusted_device_by_token(
        &mut self,
        token_hash: &str,
    ) -> StoreResult<Option<TrustedDevice>>;

    /// Trusts a device, ending the user's earlier trust of the same device id (its old
    /// token, wherever it went, skips nothing any more), their expired trusts, and the
    /// oldest of the others beyond `keep` in all.
    async fn insert_trusted_device(
        &mut self,
        device: NewTrustedDevice,
        keep: usize,
    ) -> StoreResult<()>;

    /// Removes one of the user's trusted devices; `false` if it was not theirs or absent.
    async fn delete_trusted_device(
        &mut self,
        user_id: UserId,
        id: TrustedDeviceId,
    ) -> StoreResult<bool>;

    /// Removes every trusted device of the user; returns how many.
    async fn delete_trusted_devices(&mut self, user_id: UserId) -> StoreResult<u64>;

    /// Removes every challenge of the user, used or not: their `mfa_token`s stop working.
    /// Returns how many could still have been used at `now`.
    async fn delete_mfa_challenges(
        &mut self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<u64>;
}

#[async_trait]
pub trait MfaStore: Send + Sync {
    /// The user's factors, pending ones included.
    async fn mfa_factors(&self, user_id: UserId) -> StoreResult<Vec<MfaFactor>>;

    async fn backup_codes_left(&self, user_id: UserId) -> StoreResult<u64>;

    /// An unused, unexpired challenge, without using it up.
    async fn mfa_challenge(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<MfaChallenge>>;

    /// The user's unexpired trusted devices, newest first.
    async fn trusted_devices(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<TrustedDevice>>;
}

/// The columns of `mfa_factors`, in `MfaFactorRow`'s order.
pub const MFA_FACTOR_COLUMNS: &str =
    "user_id, kind, sealed_secret, confirmed_at, last_used_step, created_at";

#[derive(Debug, sqlx::FromRow)]
pub struct MfaFactorRow {
    pub user_id: uuid::Uuid,
    pub kind: String,
    pub sealed_secret: Option<Vec<u8>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub last_used_step: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<MfaFactorRow> for MfaFactor {
    type Error = StoreError;

    fn try_from(row: MfaFactorRow) -> Result<Self, Self::Error> {
        Ok(Self {
            user_id: UserId::from_uuid(row.user_id),
            kind: MfaKind::parse(&row.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("mfa factor kind {}", row.kind)))?,
            sealed_secret: row.sealed_secret,
            confirmed_at: row.confirmed_at,
            last_used_step: row.last_used_step,
            created_at: row.created_at,
        })
    }
}

/// A challenge just used up, its user and their factors: `consume_challenge_with_user`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChallengedUser {
    pub challenge: MfaChallenge,
    pub user: User,
    pub factors: Vec<MfaFactor>,
}

/// A used challenge's row with its user and one of their factors, or none (`LEFT JOIN`):
/// `consume_challenge_with_user`. The challenge's columns carry a `challenge_` prefix.
#[derive(Debug, sqlx::FromRow)]
pub struct ChallengedUserRow {
    pub challenge_device_id: Option<String>,
    pub challenge_first_factor: String,
    pub challenge_identity_id: Option<uuid::Uuid>,
    pub challenge_expires_at: DateTime<Utc>,
    #[sqlx(flatten)]
    pub user: UserFactorRow,
}

impl ChallengedUserRow {
    /// The challenge of the row, whose user is the row's.
    pub fn challenge(&self) -> MfaChallenge {
        MfaChallenge {
            user_id: UserId::from_uuid(self.user.user.id),
            device_id: self.challenge_device_id.clone(),
            first_factor: self.challenge_first_factor.clone(),
            identity_id: self.challenge_identity_id.map(IdentityId::from_uuid),
            expires_at: self.challenge_expires_at,
        }
    }
}

/// A user's row with one of their factors, or none (`LEFT JOIN`).
#[derive(Debug, sqlx::FromRow)]
pub struct UserFactorRow {
    #[sqlx(flatten)]
    pub user: crate::identity::users::UserRow,
    pub factor_kind: Option<String>,
    pub factor_sealed_secret: Option<Vec<u8>>,
    pub factor_confirmed_at: Option<DateTime<Utc>>,
    pub factor_last_used_step: Option<i64>,
    pub factor_created_at: Option<DateTime<Utc>>,
}

impl UserFactorRow {
    /// The factor of the row; `None` for a user without any.
    pub fn factor(&self) -> Option<MfaFactorRow> {
        Some(MfaFactorRow {
            user_id: self.user.id,
            kind: self.factor_kind.clone()?,
            sealed_secret: self.factor_sealed_secret.clone(),
            confirmed_at: self.factor_confirmed_at,
            last_used_step: self.factor_last_used_step,
            created_at: self.factor_created_at?,
        })
    }
}

/// The columns of `mfa_challenges` that make an `MfaChallenge`, in `MfaChallengeRow`'s order.
pub const MFA_CHALLENGE_COLUMNS: &str = "user_id, device_id, first_factor, identity_id, expires_at";

#[derive(Debug, sqlx::FromRow)]
pub struct MfaChallengeRow {
    pub user_id: uuid::Uuid,
    pub device_id: Option<String>,
    pub first_factor: String,
    pub identity_id: Option<uuid::Uuid>,
    pub expires_at: DateTime<Utc>,
}

impl From<MfaChallengeRow> for MfaChallenge {
    fn from(row: MfaChallengeRow) -> Self {
        Self {
            user_id: UserId::from_uuid(row.user_id),
            device_id: row.device_id,
            first_factor: row.first_factor,
            identity_id: row.identity_id.map(IdentityId::from_uuid),
            expires_at: row.expires_at,
        }
    }
}

/// The columns of `trusted_devices` that make a `TrustedDevice`, in `TrustedDeviceRow`'s order.
pub const TRUSTED_DEVICE_COLUMNS: &str =
    "id, user_id, device_id, device_label, created_at, expires_at";

#[derive(Debug, sqlx::FromRow)]
pub struct TrustedDeviceRow {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub device_id: String,
    pub device_label: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<TrustedDeviceRow> for TrustedDevice {
    fn from(row: TrustedDeviceRow) -> Self {
        Self {
            id: TrustedDeviceId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            device_id: row.device_id,
            device_label: row.device_label,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}
