//! Members and teams. Ownership counts whether held directly or through a team: the
//! org always keeps an owner, and changes touching an owner or the owner role need
//! `owners:manage` (see `roles::check_grantable`).

use tenantbase_domain::id::{RoleId, TeamId, UserId};
use tenantbase_domain::model::{Member, RequestMeta, Role, Team};
use tenantbase_store::{OrgUnit, StoreError};

use super::access::OrgAccess;
use super::cache::OrgStale;
use super::roles::{
    check_grantable, check_owner_reach, is_owner_role, member_roles, name_key, org_roles,
    resolve_roles, role_names,
};
use super::{
    FieldProblem, Tenancy, TenancyError, limit_reached, limits, now_micros, required_text,
};
use crate::write::Change;

/// A member's new set of directly granted roles (ids or names).
#[derive(Debug, Clone, Default)]
pub struct MemberChange {
    pub roles: Vec<String>,
}

/// A team's fields; on update, `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct TeamChange {
    pub name: Option<String>,
    pub roles: Option<Vec<String>>,
    /// Problems found before the change got here (a field sent as `null` that cannot be,
    /// or of the wrong type): refused with the change's own, so one answer names every field.
    pub refused: Vec<FieldProblem>,
}

fn last_owner() -> TenancyError {
    TenancyError::Conflict(
        "last_owner",
        "The org's last owner (directly or through a team) cannot leave, be removed or lose \
         the owner role; make someone else owner first."
            .to_owned(),
    )
}

/// The owner role among `roles`, if there.
fn owner_in(roles: &[Role]) -> Option<RoleId> {
    roles.iter().find(|r| is_owner_role(r)).map(|r| r.id)
}

/// The last-owner rule, asked of the unit's state after a change that took a grant of
/// the `owner` role away: someone must still hold it, directly or through a team. Asking
/// after the change covers every way of losing it alike; refusing drops the unit, which
/// rolls the change back. Callers hold the org lock, so concurrent changes cannot both
/// pass.
async fn ensure_an_owner_remains(
    unit: &mut dyn OrgUnit,
    owner: RoleId,
) -> Result<(), TenancyError> {
    if !unit.members_with_role(owner).await?.is_empty() {
        return Ok(());
    }
    let through_team = unit
        .teams()
        .await?
        .iter()
        .any(|team| team.role_ids.contains(&owner) && !team.member_ids.is_empty());
    if through_team {
        Ok(())
    } else {
        Err(last_owner())
    }
}

fn team_name_taken(error: StoreError) -> TenancyError {
    match error {
        StoreError::Conflict { .. } => name_taken_by_a_team(),
        other => other.into(),
    }
}

fn name_taken_by_a_team() -> TenancyError {
    TenancyError::Conflict(
        "team_name_taken",
        "A team with this name exists in the org.".to_owned(),
    )
}

/// Refuses `name` for team `own` if another of the org's `teams` reads the same (as role
/// names are compared: `name_key`). The unique index compares bytes only; this check is
/// what holds, so callers lock the org row before reading `teams`.
fn check_team_name_free(teams: &[Team], name: &str, own: TeamId) -> Result<(), TenancyError> {
    let key = name_key(name);
    if teams
        .iter()
        .any(|t| t.id != own && name_key(&t.name) == key)
    {
        return Err(name_taken_by_a_team());
    }
    Ok(())
}

impl Tenancy {
    pub async fn members(
        &self,
        access: &OrgAccess,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<Member>, TenancyError> {
        Ok(self
            .store
            .read_org(access.scope())
            .await?
            .members(after, limit)
            .await?)
    }

    pub async fn set_member_roles(
        &self,
        access: &OrgAccess,
        user: UserId,
        change: MemberChange,
        request: &RequestMeta,
    ) -> Result<Member, TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        // Serializes membership changes of the org: two owners leaving at once cannot
        // both pass the last-owner check.
        unit.lock_org().await?;
        let member = unit.member(user).await?.ok_or(TenancyError::NotFound)?;
        let held = member_roles(unit.as_mut(), user)
            .await?
            .ok_or(TenancyError::NotFound)?;
        let all = org_roles(unit.as_mut()).await?;
        let new = resolve_roles(unit.as_mut(), "roles", &change.roles).await?;
        // What changes: direct roles added and direct roles taken away.
        let changed: Vec<Role> = all
            .iter()
            .filter(|r| member.role_ids.contains(&r.id) != new.iter().any(|n| n.id == r.id))
            .cloned()
            .collect();
        check_owner_reach(access, &held)?;
        check_grantable(access, &changed)?;
        let ids: Vec<_> = new.iter().map(|r| r.id).collect();
        unit.set_member_roles(user, &ids).await?;
        if let Some(owner) = owner_in(&changed).filter(|o| member.role_ids.contains(o)) {
            ensure_an_owner_remains(unit.as_mut(), owner).await?;
        }
        let event = access.event(
            "member.roles_changed",
            Some(("user", user.to_string())),
            request,
            serde_json::json!({"roles": role_names(&new)}),
        );
        let member = unit.member(user).await?.ok_or(TenancyError::NotFound)?;
        unit.commit(Change::new(OrgStale::Membership, event))
            .await?;
        Ok(member)
    }

    /// Removes `user` (another member, or the caller leaving when `leaving`).
    pub async fn remove_member(
        &self,
        access: &OrgAccess,
        user: UserId,
        leaving: bool,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        // Serializes membership changes of the org: two owners leaving at once cannot
        // both pass the last-owner check.
        unit.lock_org().await?;
        // Effective roles: one who is owner through a team is an owner all the same.
        let held = member_roles(unit.as_mut(), user)
            .await?
            .ok_or(TenancyError::NotFound)?;
        if !leaving {
            check_grantable(access, &held)?;
        }
        unit.remove_member(user).await?;
        if let Some(owner) = owner_in(&held) {
            ensure_an_owner_remains(unit.as_mut(), owner).await?;
        }
        // Their keys end with the membership: one who rejoins starts without them.
        let keys = unit.revoke_api_keys_of(user, now_micros()).await?;
        let event = access.event(
            if leaving {
                "member.left"
            } else {
                "member.removed"
            },
            Some(("user", user.to_string())),
            request,
            serde_json::json!({"keys_revoked": keys}),
        );
        unit.commit(Change::new(OrgStale::Membership, event))
            .await?;
        Ok(())
    }

    pub async fn teams(&self, access: &OrgAccess) -> Result<Vec<Team>, TenancyError> {
        Ok(self.store.read_org(access.scope()).await?.teams().await?)
    }

    pub async fn create_team(
        &self,
        access: &OrgAccess,
        change: TeamChange,
        request: &RequestMeta,
    ) -> Result<Team, TenancyError> {
        let name = team_name(change.name.as_deref().unwrap_or_default());
        let id = TeamId::new();
        let mut unit = self.write(access.scope()).await?;
        let references = change.roles.unwrap_or_default();
        let roles = resolve_roles(unit.as_mut(), "roles", &references).await;
        let (name, roles) =
            TenancyError::after_refused(change.refused, TenancyError::both(name, roles))?;
        // Held until commit, so two teams whose names read alike cannot both pass.
        unit.lock_org().await?;
        let teams = unit.teams().await?;
        if teams.len() >= limits::TEAMS {
            return Err(limit_reached("teams", limits::TEAMS));
        }
        check_team_name_free(&teams, &name, id)?;
        unit.insert_team(id, &name).await.map_err(team_name_taken)?;
        self.grant_team_roles(access, unit.as_mut(), id, &roles, &[])
            .await?;
        let event = access.event(
            "team.created",
            Some(("team", id.to_string())),
            request,
            serde_json::json!({"name": name, "roles": role_names(&roles)}),
        );
        let team = find_team(unit.as_mut(), id).await?;
        unit.commit(Change::new(OrgStale::Membership, event))
            .await?;
        Ok(team)
    }

    pub async fn update_team(
        &self,
        access: &OrgAccess,
        id: TeamId,
        change: TeamChange,
        request: &RequestMeta,
    ) -> Result<Team, TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        // Taking the owner role from a team is a membership change (last-owner rule).
        unit.lock_org().await?;
        let team = find_team(unit.as_mut(), id).await?;
        let name = change.name.as_deref().map(team_name).transpose();
        let roles = match &change.roles {
            Some(references) => resolve_roles(unit.as_mut(), "roles", references)
                .await
                .map(Some),
            None => Ok(None),
        };
        let (name, roles) =
            TenancyError::after_refused(change.refused, TenancyError::both(name, roles))?;
        // What changed, as the creation's event names it.
        let mut changed = serde_json::Map::new();
        if let Some(name) = name {
            check_team_name_free(&unit.teams().await?, &name, id)?;
            unit.rename_team(id, &name).await.map_err(team_name_taken)?;
            changed.insert("name".to_owned(), name.into());
        }
        if let Some(roles) = roles {
            self.grant_team_roles(access, unit.as_mut(), id, &roles, &team.role_ids)
                .await?;
            changed.insert("roles".to_owned(), role_names(&roles).into());
        }
        let event = access.event(
            "team.updated",
            Some(("team", id.to_string())),
            request,
            changed.into(),
        );
        let team = find_team(unit.as_mut(), id).await?;
        unit.commit(Change::new(OrgStale::Membership, event))
            .await?;
        Ok(team)
    }

    pub async fn delete_team(
        &self,
        access: &OrgAccess,
        id: TeamId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        unit.lock_org().await?;
        let team = find_team(unit.as_mut(), id).await?;
        let held = team_roles(unit.as_mut(), &team).await?;
        check_grantable(access, &held)?;
        unit.delete_team(id).await?;
        if let Some(owner) = owner_in(&held) {
            ensure_an_owner_remains(unit.as_mut(), owner).await?;
        }
        let event = access.event(
            "team.deleted",
            Some(("team", id.to_string())),
            request,
            serde_json::json!({}),
        );
        unit.commit(Change::new(OrgStale::Membership, event))
            .await?;
        Ok(())
    }

    /// Adds or removes a member of the org to or from a team.
    pub async fn set_team_membership(
        &self,
        access: &OrgAccess,
        id: TeamId,
        user: UserId,
        member: bool,
        request: &RequestMeta,
    ) -> Result<Team, TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        unit.lock_org().await?;
        let team = find_team(unit.as_mut(), id).await?;
        let granted = team_roles(unit.as_mut(), &team).await?;
        check_grantable(access, &granted)?;
        if member {
            if unit.member(user).await?.is_none() {
                return Err(TenancyError::invalid(
                    "user_id",
                    "is not a member of this org",
                ));
            }
            unit.add_team_member(id, user).await.map_err(|e| match e {
                StoreError::Conflict { .. } => TenancyError::Conflict(
                    "already_in_team",
                    "The user is already in this team.".to_owned(),
                ),
                other => other.into(),
            })?;
        } else if !unit.remove_team_member(id, user).await? {
            return Err(TenancyError::NotFound);
        } else if let Some(owner) = owner_in(&granted) {
            ensure_an_owner_remains(unit.as_mut(), owner).await?;
        }
        let event = access.event(
            if member {
                "team.member_added"
            } else {
                "team.member_removed"
            },
            Some(("team", id.to_string())),
            request,
            serde_json::json!({"user_id": user}),
        );
        let team = find_team(unit.as_mut(), id).await?;
        unit.commit(Change::new(OrgStale::Membership, event))
            .await?;
        Ok(team)
    }

    async fn grant_team_roles(
        &self,
        access: &OrgAccess,
        unit: &mut dyn OrgUnit,
        id: TeamId,
        new: &[Role],
        current: &[RoleId],
    ) -> Result<(), TenancyError> {
        let all = org_roles(unit).await?;
        let changed: Vec<Role> = all
            .iter()
            .filter(|r| current.contains(&r.id) != new.iter().any(|n| n.id == r.id))
            .cloned()
            .collect();
        check_grantable(access, &changed)?;
        let ids: Vec<_> = new.iter().map(|r| r.id).collect();
        unit.set_team_roles(id, &ids).await?;
        if let Some(owner) = owner_in(&changed).filter(|o| current.contains(o)) {
            ensure_an_owner_remains(unit, owner).await?;
        }
        Ok(())
    }
}

fn team_name(name: &str) -> Result<String, TenancyError> {
    required_text("name", name, 64).map_err(|p| TenancyError::Invalid(vec![p]))
}

/// The roles `team` grants its members.
async fn team_roles(unit: &mut dyn OrgUnit, team: &Team) -> Result<Vec<Role>, TenancyError> {
    Ok(org_roles(unit)
        .await?
        .into_iter()
        .filter(|r| team.role_ids.contains(&r.id))
        .collect())
}

async fn find_team(unit: &mut dyn OrgUnit, id: TeamId) -> Result<Team, TenancyError> {
    unit.teams()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(TenancyError::NotFound)
}
