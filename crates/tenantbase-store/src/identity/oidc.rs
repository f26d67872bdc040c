//! OpenID Connect sign-in: the provider identities linked to accounts and the flows under
//! way — written inside a unit of work (`OidcUnit`), listed outside one (`OidcStore`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{IdentityId, SessionId, UserId};
use tenantbase_domain::model::LinkedIdentity;

use crate::StoreResult;

/// An authorization-code flow that was started: found again by its state's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcFlow {
    /// SHA-256 of the `state` parameter, hex.
    pub state_hash: String,
    pub provider: String,
    /// The signed-in user a linking flow links to; `None` for a sign-in.
    pub user_id: Option<UserId>,
    /// The session that started a linking flow; only it may confirm the link.
    pub session_id: Option<SessionId>,
    /// Where the app asked to be sent back (one of the provider's allowed URIs).
    pub redirect_uri: String,
    /// The S256 challenge the app bound the flow's login code to, if it did.
    pub app_challenge: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An identity a linking flow verified, waiting for the user and session that started the
/// flow to confirm it with the link code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLink {
    /// SHA-256 of the link code, hex.
    pub code_hash: String,
    pub user_id: UserId,
    pub session_id: SessionId,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// OpenID Connect's part of a unit of work.
#[async_trait]
pub trait OidcUnit: Send {
    /// Stores a new flow, and forgets the flows that expired before `flow.created_at`.
    async fn insert_oidc_flow(&mut self, flow: &OidcFlow) -> StoreResult<()>;

    /// Removes the flow of `state_hash` and returns it if it had not expired by `now`:
    /// of concurrent callbacks with one state, exactly one gets it.
    async fn take_oidc_flow(
        &mut self,
        state_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<OidcFlow>>;

    /// Stores an identity a linking flow verified, and forgets the link codes that expired
    /// before `link.created_at`.
    async fn insert_link_code(&mut self, link: &PendingLink) -> StoreResult<()>;

    /// Removes the pending link of `code_hash` and returns it if it had not expired by
    /// `now`: of concurrent confirmations with one code, exactly one gets it.
    async fn take_link_code(
        &mut self,
        code_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<PendingLink>>;

    /// The identity `subject` at `issuer`, whoever it is linked to.
    async fn identity_by_subject(
        &mut self,
        issuer: &str,
        subject: &str,
    ) -> StoreResult<Option<LinkedIdentity>>;

    /// `Conflict` when (issuer, subject) is linked already.
    async fn insert_identity(&mut self, identity: &LinkedIdentity) -> StoreResult<()>;

    /// Records a sign-in through the identity.
    async fn touch_identity(&mut self, id: IdentityId, now: DateTime<Utc>) -> StoreResult<()>;

    /// The user's identities, oldest first, read inside this transaction.
    async fn user_identities(&mut self, user_id: UserId) -> StoreResult<Vec<LinkedIdentity>>;

    /// Unlinks the user's identity `id`; `false` when the user has no such identity.
    async fn delete_identity(&mut self, id: IdentityId, user_id: UserId) -> StoreResult<bool>;
}

#[async_trait]
pub trait OidcStore: Send + Sync {
    /// The user's identities, oldest first.
    async fn identities_of(&self, user_id: UserId) -> StoreResult<Vec<LinkedIdentity>>;
}

/// The columns of `identities`, in `IdentityRow`'s order.
pub const IDENTITY_COLUMNS: &str =
    "id, user_id, provider, issuer, subject, email, created_at, last_used_at";

/// A row of `identities`.
#[derive(Debug, sqlx::FromRow)]
pub struct IdentityRow {
    pub id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<IdentityRow> for LinkedIdentity {
    fn from(row: IdentityRow) -> Self {
        Self {
            id: IdentityId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            provider: row.provider,
            issuer: row.issuer,
            subject: row.subject,
            email: row.email,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
        }
    }
}

/// The columns of `oidc_flows`, in `OidcFlowRow`'s order.
pub const OIDC_FLOW_COLUMNS: &str = "state_hash, provider, user_id, session_id, redirect_uri, \
     app_challenge, created_at, expires_at";

/// A row of `oidc_flows`.
#[derive(Debug, sqlx::FromRow)]
pub struct OidcFlowRow {
    pub state_hash: String,
    pub provider: String,
    pub user_id: Option<uuid::Uuid>,
    pub session_id: Option<uuid::Uuid>,
    pub redirect_uri: String,
    pub app_challenge: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<OidcFlowRow> for OidcFlow {
    fn from(row: OidcFlowRow) -> Self {
        Self {
            state_hash: row.state_hash,
            provider: row.provider,
            user_id: row.user_id.map(UserId::from_uuid),
            session_id: row.session_id.map(SessionId::from_uuid),
            redirect_uri: row.redirect_uri,
            app_challenge: row.app_challenge,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}

/// The columns of `oidc_link_codes`, in `PendingLinkRow`'s order.
pub const LINK_CODE_COLUMNS: &str =
    "code_hash, user_id, session_id, provider, issuer, subject, email, created_at, expires_at";

/// A row of `oidc_link_codes`.
#[derive(Debug, sqlx::FromRow)]
pub struct PendingLinkRow {
    pub code_hash: String,
    pub user_id: uuid::Uuid,
    pub session_id: uuid::Uuid,
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<PendingLinkRow> for PendingLink {
    fn from(row: PendingLinkRow) -> Self {
        Self {
            code_hash: row.code_hash,
            user_id: UserId::from_uuid(row.user_id),
            session_id: SessionId::from_uuid(row.session_id),
            provider: row.provider,
            issuer: row.issuer,
            subject: row.subject,
            email: row.email,
            created_at: row.created_at,
            expires_at: row.expires_at,
        }
    }
}
