//! The org itself: create (the creator becomes its owner and the built-in roles are
//! seeded), list, read, rename, soft-delete (restorable for the restore period) and
//! restore; org-bound access tokens.

use std::sync::Arc;

use chrono::Utc;
use futures::{StreamExt, TryStreamExt};
use tenantbase_domain::id::{RoleId, UserId};
use tenantbase_domain::model::{Membership, Org, RequestMeta, Role};
use tenantbase_domain::{BuiltinRole, OrgId, PermissionSet};
use tenantbase_store::platform::jobs::NewJob;
use tenantbase_store::{OrgScope, StoreError};

use super::access::OrgAccess;
use super::cache::OrgStale;
use super::purge::PurgeOrg;
use super::{FieldProblem, Tenancy, TenancyError, required_text};
use crate::identity::Principal;
use crate::write::Change;

/// How many memberships' grants `memberships_shown` reads at once.
const GRANTS_READ_AT_ONCE: usize = 4;

/// A membership with what it grants now (PRODUCT.md ID-4).
#[derive(Debug, Clone)]
pub struct MembershipGrant {
    pub membership: Membership,
    /// Names of the roles held, directly or through teams.
    pub roles: Arc<[String]>,
    pub permissions: PermissionSet,
}

/// A rename or a change of rules: any field may be left as is.
#[derive(Debug, Clone, Default)]
pub struct OrgChange {
    pub name: Option<String>,
    pub slug: Option<String>,
    /// Whether members must sign in with a second factor to act in the org.
    pub require_mfa: Option<bool>,
    /// Problems found before the change got here (a field sent as `null` that cannot be,
    /// or of the wrong type): refused with the change's own, so one answer names every field.
    pub refused: Vec<FieldProblem>,
}

const NAME_MAX: usize = 100;

/// `3–63` characters of `a–z`, `0–9` and inner `-`.
fn valid_slug(slug: &str) -> Result<String, FieldProblem> {
    let ok = (3..=63).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-');
    if ok {
        Ok(slug.to_owned())
    } else {
        Err(FieldProblem::new(
            "slug",
            "must be 3–63 characters of a–z, 0–9 and '-', not starting or ending with '-'",
        ))
    }
}

/// A slug made from the name, with a random tail so two orgs named alike do not collide.
fn slug_from(name: &str) -> String {
    let mut base = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            base.push(c);
        } else if !base.ends_with('-') && !base.is_empty() {
            base.push('-');
        }
    }
    let base: String = base.trim_end_matches('-').chars().take(40).collect();
    let base = base.trim_end_matches('-');
    let tail = format!("{:06x}", fastrand::u32(..0x100_0000));
    if base.is_empty() {
        format!("org-{tail}")
    } else {
        format!("{base}-{tail}")
    }
}

/// Validates whichever of the two fields are given; problems of both at once.
fn org_fields(
    name: Option<&str>,
    slug: Option<&str>,
) -> Result<(Option<String>, Option<String>), TenancyError> {
    let name = name.map(|n| required_text("name", n, NAME_MAX)).transpose();
    let slug = slug.map(valid_slug).transpose();
    match (name, slug) {
        (Ok(name), Ok(slug)) => Ok((name, slug)),
        (name, slug) => Err(TenancyError::Invalid(
            [name.err(), slug.err()].into_iter().flatten().collect(),
        )),
    }
}

fn slug_taken(error: StoreError) -> TenancyError {
    match error {
        StoreError::Conflict { .. } => TenancyError::Conflict(
            "slug_taken",
            "Another org already uses this slug.".to_owned(),
        ),
        other => other.into(),
    }
}

/// The refusal when `creator` has `cap` orgs already.
fn too_many_orgs(cap: u32, guest: bool) -> TenancyError {
    let who = if guest {
        "A guest account"
    } else {
        "An account"
    };
    TenancyError::Conflict(
        "limit_reached",
        format!(
            "{who} can have created at most {cap} orgs; a deleted org stops counting once it is purged."
        ),
    )
}

impl Tenancy {
    /// Creates an org owned by the caller, with the built-in roles, unless the caller
    /// has created as many orgs as a guest or an account may. `refused`: problems found
    /// in the body already, named with the name's and slug's own.
    pub async fn create_org(
        &self,
        principal: &Principal,
        (name, slug): (&str, Option<&str>),
        refused: Vec<FieldProblem>,
        request: &RequestMeta,
    ) -> Result<Org, TenancyError> {
        let (name, slug) = TenancyError::after_refused(refused, org_fields(Some(name), slug))?;
        let name = name.unwrap_or_default();
        let slug = slug.unwrap_or_else(|| slug_from(&name));
        let org_id = OrgId::new();
        let access = OrgAccess::of_creator(org_id, principal.user_id);
        let guest = self.store.user_by_id(principal.user_id).await?.is_guest;
        let cap = if guest {
            self.policy.max_orgs_created_per_guest
        } else {
            self.policy.max_orgs_created_per_user
        };
        let mut unit = self.write(access.scope()).await?;
        // Counted on the user's row, in this transaction: concurrent creations take turns
        // on it, and a failed creation counts nothing.
        if !unit.take_org_slot(principal.user_id, cap).await? {
            return Err(too_many_orgs(cap, guest));
        }
        let org = unit
            .create_org(&name, &slug, principal.user_id)
            .await
            .map_err(slug_taken)?;
        let now = org.created_at;
        let mut owner = None;
        for builtin in BuiltinRole::ALL {
            let role = Role {
                id: RoleId::new(),
                name: builtin.name().to_owned(),
                description: builtin.description().to_owned(),
                // Read from code (`roles::org_roles`), never from the row.
                permissions: Vec::new(),
                builtin: true,
                created_at: now,
                updated_at: now,
            };
            unit.insert_role(&role).await?;
            if builtin == BuiltinRole::Owner {
                owner = Some(role.id);
            }
        }
        unit.add_member(principal.user_id, &owner.into_iter().collect::<Vec<_>>())
            .await?;
        let event = access.event(
            "org.created",
            Some(("org", org.id.to_string())),
            request,
            serde_json::json!({"name": org.name, "slug": org.slug}),
        );
        unit.commit(Change::new(OrgStale::OrgState, event)).await?;
        Ok(org)
    }

    /// The caller's live orgs by id, after `after`. (Org-bound tokens never get here: the
    /// HTTP access guard refuses them on every account route.)
    pub async fn orgs_of(
        &self,
        principal: &Principal,
        after: Option<OrgId>,
        limit: u32,
    ) -> Result<Vec<Membership>, TenancyError> {
        Ok(self
            .store
            .orgs_of_user(principal.user_id, after, limit)
            .await?)
    }

    /// The memberships `GET /v1/auth/me` shows, each with what it grants now: the first
    /// `limit` by org id, or — for a token bound to one org — only that org, so the token
    /// reveals no other.
    pub async fn memberships_shown(
        &self,
        principal: &Principal,
        limit: u32,
    ) -> Result<Vec<MembershipGrant>, TenancyError> {
        let memberships = self.memberships_listed(principal, limit).await?;
        // A few at a time: from the authorization cache when warm, else a read each.
        let granted: Vec<Option<MembershipGrant>> = futures::stream::iter(memberships)
            .map(|membership| self.granted(principal.user_id, membership))
            .buffered(GRANTS_READ_AT_ONCE)
            .try_collect()
            .await?;
        Ok(granted.into_iter().flatten().collect())
    }

    async fn memberships_listed(
        &self,
        principal: &Principal,
        limit: u32,
    ) -> Result<Vec<Membership>, TenancyError> {
        let user = principal.user_id;
        let Some(bound) = principal.org else {
            return Ok(self.store.orgs_of_user(user, None, limit).await?);
        };
        let mut after = None;
        loop {
            let page = self.store.orgs_of_user(user, after, 100).await?;
            let Some(last) = page.last().map(|membership| membership.org.id) else {
                return Ok(Vec::new());
            };
            if let Some(found) = page.into_iter().find(|m| m.org.id == bound) {
                return Ok(vec![found]);
            }
            after = Some(last);
        }
    }

    /// `membership` with the roles and permissions it holds now; `None` when it ended
    /// since it was listed.
    async fn granted(
        &self,
        user: UserId,
        membership: Membership,
    ) -> Result<Option<MembershipGrant>, TenancyError> {
        let grant = self.member_grant(user, membership.org.id).await?;
        Ok(grant.map(|grant| MembershipGrant {
            membership,
            roles: grant.roles,
            permissions: grant.permissions,
        }))
    }

    pub async fn org(&self, access: &OrgAccess) -> Result<Org, TenancyError> {
        Ok(self.store.read_org(access.scope()).await?.org().await?)
    }

    pub async fn update_org(
        &self,
        access: &OrgAccess,
        change: OrgChange,
        request: &RequestMeta,
    ) -> Result<Org, TenancyError> {
        let (name, slug) = TenancyError::after_refused(
            change.refused,
            org_fields(change.name.as_deref(), change.slug.as_deref()),
        )?;
        let mut unit = self.write(access.scope()).await?;
        // The change is written whole from what this unit read: concurrent changes take
        // turns, or a rename could write back the `require_mfa` another just turned on.
        unit.lock_org().await?;
        let before = unit.org().await?;
        let require_mfa = change.require_mfa.unwrap_or(before.require_mfa);
        // Whoever demands a second factor of the members shows one first, so the rule
        // cannot lock its own author out unnoticed.
        if require_mfa && !before.require_mfa && !access.used_second_factor() {
            return Err(TenancyError::MfaRequired);
        }
        let org = unit
            .update_org(
                name.as_deref().unwrap_or(&before.name),
                slug.as_deref().unwrap_or(&before.slug),
                require_mfa,
            )
            .await
            .map_err(slug_taken)?;
        let event = access.event(
            "org.updated",
            Some(("org", org.id.to_string())),
            request,
            serde_json::json!({"name": org.name, "slug": org.slug, "require_mfa": org.require_mfa}),
        );
        // Grants carry the rule: a change of it must reach every cached member at once.
        let stale = if org.require_mfa == before.require_mfa {
            OrgStale::Nothing
        } else {
            OrgStale::OrgState
        };
        unit.commit(Change::new(stale, event)).await?;
        Ok(org)
    }

    /// Soft-deletes the org; the purge job removes its data once the restore period ends.
    pub async fn delete_org(
        &self,
        access: &OrgAccess,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let now = Utc::now();
        let mut unit = self.write(access.scope()).await?;
        // Concurrent deletions take turns: one deletes, the others find it deleted (else
        // each would enqueue its own purge and record its own event).
        unit.lock_org().await?;
        if unit.org().await?.deleted_at.is_some() {
            return Err(TenancyError::NotFound);
        }
        unit.set_org_deleted(Some(now)).await?;
        let purge_at =
            now + chrono::Duration::from_std(self.policy.restore_period).unwrap_or_default();
        unit.enqueue_job(
            NewJob::new(
                PurgeOrg::KIND,
                serde_json::json!({"org_id": access.org_id()}),
            )
            .at(purge_at)
            .unique(format!(
                "{}:{}:{}",
                PurgeOrg::KIND,
                access.org_id(),
                now.timestamp_micros()
            )),
        )
        .await?;
        let event = access.event(
            "org.deleted",
            Some(("org", access.org_id().to_string())),
            request,
            serde_json::json!({"purge_at": purge_at}),
        );
        unit.commit(Change::new(OrgStale::OrgState, event)).await?;
        Ok(())
    }

    pub async fn restore_org(
        &self,
        access: &OrgAccess,
        request: &RequestMeta,
    ) -> Result<Org, TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        unit.lock_org().await?;
        let Some(deleted_at) = unit.org().await?.deleted_at else {
            return Err(TenancyError::Conflict(
                "not_deleted",
                "The org is not deleted.".to_owned(),
            ));
        };
        // Past the restore period the org is gone, whether or not the purge job has run
        // yet: the answer must not depend on how busy the job queue is.
        let period = chrono::Duration::from_std(self.policy.restore_period).unwrap_or_default();
        if deleted_at + period <= Utc::now() {
            return Err(TenancyError::NotFound);
        }
        unit.set_org_deleted(None).await?;
        let org = unit.org().await?;
        let event = access.event(
            "org.restored",
            Some(("org", org.id.to_string())),
            request,
            serde_json::json!({}),
        );
        unit.commit(Change::new(OrgStale::OrgState, event)).await?;
        Ok(org)
    }

    /// An access token bound to `access`'s org, for the signed-in caller.
    pub fn org_token(
        &self,
        principal: &Principal,
        access: &OrgAccess,
    ) -> Result<(String, u64), TenancyError> {
        self.identity
            .org_bound_token(principal, access.org_id())
            .map_err(|e| TenancyError::Internal(e.to_string()))
    }

    /// The scope of `org` for jobs that act on an org by id (no caller to authorize).
    pub(super) fn system_scope(org: OrgId) -> OrgScope {
        OrgScope::for_checked_org(org)
    }
}
