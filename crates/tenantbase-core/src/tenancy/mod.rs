//! Organizations as tenants: who may do what in which org (`access`), and the org-owned
//! use cases — the org itself, members and teams, roles, invitations, API keys and
//! projects. Every use case receives an `OrgAccess`, the proof that the caller was
//! authorized in one org; the store units it opens are confined to that org.

mod access;
mod api_keys;
mod audit_log;
mod cache;
pub mod files;
mod invitation_limits;
mod invitations;
mod members;
mod orgs;
pub mod profiles;
pub mod projects;
mod purge;
mod roles;
mod secrets;

use std::sync::Arc;
use std::time::Duration;

use tenantbase_blob::BlobStore;
use tenantbase_domain::Permission;
use tenantbase_domain::page::InvalidCursor;
use tenantbase_store::{OrgScope, OrgUnit, Store, StoreError};
use unicode_normalization::UnicodeNormalization;

use crate::identity::{Identity, Links};
use crate::write::Write;

pub use access::{Access, Credential, OrgAccess};
pub use api_keys::{CreatedApiKey, NewApiKey};
pub use audit_log::AuditListing;
pub use invitations::{NewInvitation, SentInvitation};
pub use members::{MemberChange, TeamChange};
pub use orgs::{MembershipGrant, OrgChange};
pub use profiles::ProfilePatch;
pub use projects::{ExportFormat, NewProject, ProjectFilter, ProjectPatch, ReadItem};
pub use purge::PurgeOrg;
pub use roles::RoleChange;

/// Most of each kind an org may have, so no member can grow an org's lists (which some
/// requests read whole) or its mail without bound.
pub mod limits {
    pub const CUSTOM_ROLES: usize = 100;
    pub const TEAMS: usize = 500;
    pub const ACTIVE_API_KEYS: usize = 100;
    pub const PENDING_INVITATIONS: usize = 1_000;
    pub const OPEN_UPLOADS: usize = 1_000;
    /// Entries of one list of roles or permissions in a request: more than an org's
    /// roles (built-in and custom) or the catalog hold, so never needed; beyond it the
    /// list is refused as a whole rather than answered with a problem for each entry.
    pub const LISTED: usize = 200;
}

/// The refusal when an org already has `limit` of `what`.
pub(crate) fn limit_reached(what: &str, limit: usize) -> TenancyError {
    TenancyError::Conflict(
        "limit_reached",
        format!("An org can have at most {limit} {what}; remove some first."),
    )
}

/// One invalid input field (or row field of an import: `rows[3].name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
}

/// A cursor this list did not make is the `cursor` field's problem.
impl From<InvalidCursor> for FieldProblem {
    fn from(invalid: InvalidCursor) -> Self {
        Self::new("cursor", invalid.to_string())
    }
}

impl From<InvalidCursor> for TenancyError {
    fn from(invalid: InvalidCursor) -> Self {
        Self::Invalid(vec![invalid.into()])
    }
}

impl FieldProblem {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The body's member the problem is in: `tags` for `tags[1]` or `tags.a`.
    fn member(&self) -> &str {
        self.field.split(['.', '[']).next().unwrap_or(&self.field)
    }
}

/// The problems the caller found before a change got here (`refused`: members of the wrong
/// type, absent fields), then those the change's own checks found (`found`) in other
/// members: a member refused already was checked as the stand-in put for it, so what the
/// checks say of it is not about what was sent.
pub(crate) fn after_refused_problems(
    refused: Vec<FieldProblem>,
    found: Vec<FieldProblem>,
) -> Vec<FieldProblem> {
    let others: Vec<FieldProblem> = found
        .into_iter()
        .filter(|problem| refused.iter().all(|r| r.member() != problem.member()))
        .collect();
    refused.into_iter().chain(others).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum TenancyError {
    /// No credential, or one that is invalid, expired or revoked.
    #[error("not authenticated")]
    Unauthenticated,
    /// A member lacking the permission.
    #[error("missing permission {0}")]
    Forbidden(Permission),
    /// A rule of the org forbids the change (e.g. only owners manage owners).
    #[error("{1}")]
    NotAllowed(&'static str, String),
    /// The org requires members to sign in with a second factor, and this session did not.
    #[error("the org requires a second factor")]
    MfaRequired,
    /// Not a member, another org's id, or no such resource: indistinguishable.
    #[error("not found")]
    NotFound,
    #[error("invalid input")]
    Invalid(Vec<FieldProblem>),
    /// The change conflicts with the current state (`code` says how).
    #[error("{1}")]
    Conflict(&'static str, String),
    /// A pending invitation to the same address exists; resend by revoking it first.
    #[error("an invitation to this address is pending")]
    InvitationPending(tenantbase_domain::id::InvitationId),
    /// Too many of something in a window (invitations per hour); come back after the wait.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after: Duration,
    },
    /// A file operation the store or the org's limits refuse.
    #[error("file refused: {0:?}")]
    File(files::FileRefusal),
    #[error(transparent)]
    Store(StoreError),
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for TenancyError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => TenancyError::NotFound,
            other => TenancyError::Store(other),
        }
    }
}

impl TenancyError {
    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        TenancyError::Invalid(vec![FieldProblem::new(field, message)])
    }

    /// One answer for several fields checked apart: every field problem among `errors`
    /// at once (a 422 names each invalid field, not the first), unless one of them is
    /// not about input, which then wins.
    pub(crate) fn all_of(errors: impl IntoIterator<Item = Option<TenancyError>>) -> Self {
        let mut problems = Vec::new();
        for error in errors.into_iter().flatten() {
            match error {
                TenancyError::Invalid(found) => problems.extend(found),
                other => return other,
            }
        }
        TenancyError::Invalid(problems)
    }

    /// `result`, or, when the caller found problems in the change already (`refused`),
    /// those with `result`'s own (see `all_of` and `after_refused_problems`).
    pub(crate) fn after_refused<T>(
        refused: Vec<FieldProblem>,
        result: Result<T, TenancyError>,
    ) -> Result<T, TenancyError> {
        if refused.is_empty() {
            return result;
        }
        match result {
            Ok(_) => Err(TenancyError::Invalid(refused)),
            Err(TenancyError::Invalid(found)) => Err(TenancyError::Invalid(
                after_refused_problems(refused, found),
            )),
            Err(other) => Err(other),
        }
    }

    /// Both values, or every field problem of the two at once (see `all_of`).
    pub(crate) fn both<A, B>(
        a: Result<A, TenancyError>,
        b: Result<B, TenancyError>,
    ) -> Result<(A, B), TenancyError> {
        match (a, b) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            (a, b) => Err(TenancyError::all_of([a.err(), b.err()])),
        }
    }

    /// 403 `email_unverified`: `what` needs the account's email address verified first.
    pub(crate) fn email_unverified(what: &str) -> Self {
        TenancyError::NotAllowed(
            "email_unverified",
            format!("Verify your email address before {what}."),
        )
    }
}

/// The rules a `Tenancy` applies.
#[derive(Debug, Clone)]
pub struct TenancyPolicy {
    /// How long a deleted org can be restored before its data is purged.
    pub restore_period: Duration,
    /// How long an invitation link works.
    pub invitation_ttl: Duration,
    /// Quotas, size caps and URL signing of files.
    pub files: files::FilePolicy,
    /// Invitation emails one user may send per hour, across all orgs.
    pub invitations_per_hour_per_inviter: u32,
    /// Invitation emails sent from one org per hour, whoever sends them.
    pub invitations_per_hour_per_org: u32,
    /// Orgs a guest may have created (until purged).
    pub max_orgs_created_per_guest: u32,
    /// Orgs an account with credentials may have created (until purged).
    pub max_orgs_created_per_user: u32,
}

impl Default for TenancyPolicy {
    fn default() -> Self {
        Self {
            restore_period: Duration::from_secs(30 * 86_400),
            invitation_ttl: Duration::from_secs(7 * 86_400),
            files: files::FilePolicy::default(),
            invitations_per_hour_per_inviter: 50,
            invitations_per_hour_per_org: 100,
            max_orgs_created_per_guest: 5,
            max_orgs_created_per_user: 100,
        }
    }
}

/// The tenancy use cases.
pub struct Tenancy {
    store: Arc<dyn Store>,
    blob: BlobStore,
    identity: Arc<Identity>,
    policy: TenancyPolicy,
    cache: cache::AccessCache,
    invitation_limits: invitation_limits::InvitationLimits,
}

impl Tenancy {
    pub fn new(
        store: Arc<dyn Store>,
        blob: BlobStore,
        identity: Arc<Identity>,
        policy: TenancyPolicy,
    ) -> Self {
        Self {
            store,
            blob,
            identity,
            invitation_limits: invitation_limits::InvitationLimits::new(
                policy.invitations_per_hour_per_inviter,
                policy.invitations_per_hour_per_org,
            ),
            policy,
            cache: cache::AccessCache::new(),
        }
    }

    /// New invitation limits (a config reload), in force from the next invitation.
    pub fn set_invitation_limits(&self, per_inviter_per_hour: u32, per_org_per_hour: u32) {
        self.invitation_limits
            .set(per_inviter_per_hour, per_org_per_hour);
    }

    fn links(&self) -> &Links {
        self.identity.links()
    }

    /// A read-write unit of `scope`'s org whose commit appends the change's events and
    /// evicts the access this process cached that the change made stale.
    async fn write(&self, scope: &OrgScope) -> Result<OrgWrite<'_>, StoreError> {
        let unit = self.store.begin_org(scope).await?;
        Ok(Write::new(unit, self.cache.of(scope.org_id())))
    }
}

/// An org unit that commits only with a `Change` (see `crate::write`).
type OrgWrite<'c> = Write<Box<dyn OrgUnit>, cache::OrgEntries<'c>>;

/// `value` trimmed and composed (NFC, so a name typed composed and one typed decomposed
/// are one name), required, at most `max` characters.
pub(crate) fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldProblem> {
    let value: String = value.trim().nfc().collect();
    let Some(first) = value.chars().next() else {
        return Err(FieldProblem::new(field, "must not be empty"));
    };
    // A mark with nothing to sit on renders onto whatever text precedes the name.
    if unicode_normalization::char::is_combining_mark(first) {
        return Err(FieldProblem::new(
            field,
            "must not start with a combining mark",
        ));
    }
    if value.chars().count() > max {
        return Err(FieldProblem::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return Err(FieldProblem::new(
            field,
            "must not contain control or invisible formatting characters",
        ));
    }
    Ok(value)
}

/// Characters that change how a name reads without being seen: bidirectional marks,
/// embeddings, overrides and isolates (`invoice\u{202E}fdp.exe` shows as
/// `invoiceexe.pdf`, an org named so reaches invitation emails), zero-width spaces, word
/// joiners and byte-order marks. The zero-width (non-)joiners stay allowed: emoji
/// sequences and scripts such as Persian and Devanagari are written with them.
pub(crate) fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200B}'
            | '\u{200E}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Now, as both databases keep it (microseconds), so a returned value equals a re-read.
pub(crate) fn now_micros() -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6)
}

/// A timestamp filter (`?since=`, `?created_after=`) with RFC 3339's four-digit years
/// only: chrono also reads `-5000-01-01T00:00:00Z` and `+20000-…`, which PostgreSQL
/// refuses to compare with (SQLSTATE 22008).
pub(crate) fn four_digit_year<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, D::Error> {
    match <Option<chrono::DateTime<chrono::Utc>> as serde::Deserialize>::deserialize(d)? {
        Some(at) if !(0..=9999).contains(&chrono::Datelike::year(&at)) => Err(
            serde::de::Error::custom("the year must have four digits (0000 to 9999)"),
        ),
        at => Ok(at),
    }
}
