//! Passkeys and the WebAuthn ceremonies that create and use them: registered, renamed,
//! removed and used inside a unit of work (`PasskeysUnit`), listed outside one
//! (`PasskeyStore`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{PasskeyId, SessionId, UserId};
use tenantbase_domain::model::PasskeyInfo;

use crate::StoreResult;

/// A passkey to store: what its owner sees, and the verifier's record of the credential.
#[derive(Debug, Clone)]
pub struct NewPasskey {
    pub info: PasskeyInfo,
    /// base64url of the credential id.
    pub credential_id: String,
    /// The verifier's record (JSON): public key, signature counter, backup flags.
    pub credential: String,
    pub sign_count: u32,
}

/// A stored passkey with the verifier's record, for a ceremony to check an answer against.
#[derive(Debug, Clone)]
pub struct StoredPasskey {
    pub info: PasskeyInfo,
    pub credential: String,
    pub sign_count: u32,
}

/// What a successful sign-in changed in a passkey's record.
#[derive(Debug, Clone)]
pub struct PasskeyUse {
    pub id: PasskeyId,
    pub credential: String,
    /// The authenticator's new signature counter: 0 for authenticators without one.
    pub sign_count: u32,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub used_at: DateTime<Utc>,
}

/// Why a ceremony was started: which finish may take its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyPurpose {
    /// Adding a passkey to the signed-in user.
    Register,
    /// Signing in with a discoverable passkey, naming no one beforehand.
    SignIn,
    /// The second step of a sign-in, with one of the account's passkeys.
    SecondFactor,
    /// A signed-in user's step-up (reauthentication), with one of their passkeys.
    StepUp,
}

impl CeremonyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CeremonyPurpose::Register => "register",
            CeremonyPurpose::SignIn => "sign_in",
            CeremonyPurpose::SecondFactor => "second_factor",
            CeremonyPurpose::StepUp => "step_up",
        }
    }
}

/// A ceremony's server-side state, stored between its start and its finish.
#[derive(Debug, Clone)]
pub struct NewCeremony {
    /// SHA-256 (hex) of the challenge sent to the client.
    pub challenge_hash: String,
    pub user_id: Option<UserId>,
    /// The session a step-up or a registration was started in, the only one that may
    /// finish it; `None` for the ceremonies of a sign-in, which has no session yet.
    pub session_id: Option<SessionId>,
    /// The sign-in challenge (its `mfa_token`'s hash) a second step was started for, the
    /// only one that may finish it; `None` for the other purposes.
    pub mfa_challenge_hash: Option<String>,
    pub purpose: CeremonyPurpose,
    /// The verifier's state (JSON).
    pub state: String,
    pub expires_at: DateTime<Utc>,
}

/// Passkeys' part of a unit of work.
#[async_trait]
pub trait PasskeysUnit: Send {
    /// Stores a passkey; a credential id registered before is a `Conflict`.
    async fn insert_passkey(&mut self, passkey: NewPasskey) -> StoreResult<PasskeyInfo>;

    /// Renames `user`'s passkey; `NotFound` if it is not theirs.
    async fn rename_passkey(
        &mut self,
        user: UserId,
        id: PasskeyId,
        name: &str,
    ) -> StoreResult<PasskeyInfo>;

    /// Deletes `user`'s passkey; `false` if it is not theirs.
    async fn delete_passkey(&mut self, user: UserId, id: PasskeyId) -> StoreResult<bool>;

    /// How many passkeys `user` has.
    async fn passkey_count(&mut self, user: UserId) -> StoreResult<u64>;

    /// The passkey with this credential id (base64url), whoever owns it.
    async fn passkey_by_credential_id(
        &mut self,
        credential_id: &str,
    ) -> StoreResult<Option<StoredPasskey>>;

    /// Records a successful use. Refuses (`false`) when the stored counter moved since it
    /// was read to a value the new one does not exceed — a concurrent use of a cloned
    /// authenticator; a counter of 0 means the authenticator keeps none.
    async fn record_passkey_use(&mut self, used: PasskeyUse) -> StoreResult<bool>;

    /// Stores a ceremony's state, deleting expired ceremonies on the way.
    async fn insert_ceremony(&mut self, ceremony: NewCeremony) -> StoreResult<()>;

    /// Takes (deletes and returns) the unexpired state of the ceremony with this challenge
    /// hash, purpose, user, session and sign-in challenge; `None` if there is none —
    /// unknown, used, expired, or started for another purpose, user, session or challenge.
    async fn take_ceremony(
        &mut self,
        challenge_hash: &str,
        purpose: CeremonyPurpose,
        user: Option<UserId>,
        session: Option<SessionId>,
        mfa_challenge_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>>;
}

#[async_trait]
pub trait PasskeyStore: Send + Sync {
    /// `user`'s passkeys, oldest first, with the verifier's records.
    async fn passkeys(&self, user: UserId) -> StoreResult<Vec<StoredPasskey>>;
}

/// The columns of `passkeys` that make a `PasskeyRow`, in its order.
pub const PASSKEY_COLUMNS: &str = "id, user_id, name, backup_eligible, backed_up, created_at, \
     last_used_at, credential, sign_count";

/// A row of `passkeys`.
#[derive(Debug, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub name: String,
    pub backup_eligible: bool,
    pub backed_up: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub credential: String,
    pub sign_count: i64,
}

impl From<PasskeyRow> for StoredPasskey {
    fn from(row: PasskeyRow) -> Self {
        Self {
            info: PasskeyInfo {
                id: PasskeyId::from_uuid(row.id),
                user_id: UserId::from_uuid(row.user_id),
                name: row.name,
                backup_eligible: row.backup_eligible,
                backed_up: row.backed_up,
                created_at: row.created_at,
                last_used_at: row.last_used_at,
            },
            credential: row.credential,
            // The column only ever holds a u32 (the authenticator's counter).
            sign_count: u32::try_from(row.sign_count).unwrap_or(u32::MAX),
        }
    }
}
