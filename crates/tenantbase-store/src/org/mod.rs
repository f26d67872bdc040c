//! Organizations and everything they own — roles, members, teams, invitations, API keys,
//! projects, files — read and written through a unit of work confined to one org.
//!
//! The only way to reach org-owned rows is `TenantStore::begin_org`/`read_org`, which take
//! an `OrgScope`; every statement behind `OrgUnit` filters by the scope's org, and on
//! PostgreSQL the transaction also sets `app.org_id`, which row-level security enforces.
//!
//! Each resource has a module here with its unit trait (`ProjectsUnit`, …), its query
//! types and its row type; the statements behind the traits are in the store's `sql/org/`,
//! compiled by each backend. `OrgUnit` is the sum of the resources' traits.

pub mod api_keys;
pub mod events;
pub mod files;
pub mod invitations;
pub mod jobs;
pub mod members;
pub mod orgs;
pub mod projects;
pub mod roles;
pub mod teams;
pub mod uploads;

use async_trait::async_trait;
use tenantbase_domain::OrgId;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::Membership;

use crate::platform::events::NewEvent;
use crate::{OrgScope, StoreResult};
use api_keys::ApiKeysUnit;
use events::OrgEventsUnit;
use files::FilesUnit;
use invitations::InvitationsUnit;
use jobs::OrgJobsUnit;
use members::MembersUnit;
use orgs::OrgsUnit;
use projects::ProjectsUnit;
use roles::RolesUnit;
use teams::TeamsUnit;
use uploads::UploadsUnit;

#[async_trait]
pub trait TenantStore: Send + Sync {
    /// A read-write unit confined to `scope`'s org.
    async fn begin_org(&self, scope: &OrgScope) -> StoreResult<Box<dyn OrgUnit>>;

    /// A read-only unit confined to `scope`'s org. Writing through it fails. On SQLite it
    /// is a reader connection outside any transaction (it never waits for the writer, and
    /// each statement sees the latest commit, so a read of several statements may see
    /// a write land between them); on PostgreSQL a `READ ONLY` transaction.
    async fn read_org(&self, scope: &OrgScope) -> StoreResult<Box<dyn OrgUnit>>;

    /// The live orgs `user` is a member of, by org id after `after`.
    async fn orgs_of_user(
        &self,
        user: UserId,
        after: Option<OrgId>,
        limit: u32,
    ) -> StoreResult<Vec<Membership>>;
}

/// A transaction on one org's rows: every resource's unit at once. Dropping it without
/// `commit` rolls it back. Callers of a `dyn OrgUnit` need none of the resource traits in
/// scope: a trait object's methods include its supertraits'.
#[async_trait]
pub trait OrgUnit:
    OrgsUnit
    + RolesUnit
    + MembersUnit
    + TeamsUnit
    + InvitationsUnit
    + ApiKeysUnit
    + ProjectsUnit
    + FilesUnit
    + UploadsUnit
    + OrgEventsUnit
    + OrgJobsUnit
    + Send
{
    fn scope(&self) -> OrgScope;

    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Records `events` (as `UnitOfWork::commit_with_events`; each must be this org's,
    /// `Invalid` otherwise, and then nothing is recorded) and commits.
    async fn commit_with_events(self: Box<Self>, events: Vec<NewEvent>) -> StoreResult<()>;
}
