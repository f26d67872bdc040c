//! Members and teams. The last owner can neither leave nor lose the owner role, and
//! changes touching owners need `owners:manage` (see `roles::check_grantable`).

use tenantbase_domain::id::{TeamId, UserId};
use tenantbase_store::events::RequestMeta;
use tenantbase_store::tenant::{Member, Role, Team};
use tenantbase_store::{OrgUnit, StoreError};

use super::access::OrgAccess;
use super::roles::{check_grantable, is_owner_role, resolve_roles};
use super::{Tenancy, TenancyError, limit_reached, limits, required_text};

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
}

fn last_owner() -> TenancyError {
    TenancyError::Conflict(
        "last_owner",
        "The org's last owner cannot leave or be demoted; make someone else owner first."
            .to_owned(),
    )
}

/// Whether `user` is the only member holding the owner role directly.
async fn is_last_owner(
    unit: &mut dyn OrgUnit,
    roles: &[Role],
    user: UserId,
) -> Result<bool, TenancyError> {
    let Some(owner) = roles.iter().find(|r| is_owner_role(r)) else {
        return Ok(false);
    };
    let owners = unit.members_with_role(owner.id).await?;
    Ok(owners == [user])
}

fn team_name_taken(error: StoreError) -> TenancyError {
    match error {
        StoreError::Conflict { .. } => TenancyError::Conflict(
            "team_name_taken",
            "A team with this name exists in the org.".to_owned(),
        ),
        other => other.into(),
    }
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
        let mut unit = self.store.begin_org(access.scope()).await?;
        // Serializes membership changes of the org: two owners leaving at once cannot
        // both pass the last-owner check.
        unit.lock_org().await?;
        let member = unit.member(user).await?.ok_or(TenancyError::NotFound)?;
        let all = unit.roles().await?;
        let new = resolve_roles(unit.as_mut(), "roles", &change.roles).await?;
        // What changes: roles added and roles taken away.
        let changed: Vec<Role> = all
            .iter()
            .filter(|r| member.role_ids.contains(&r.id) != new.iter().any(|n| n.id == r.id))
            .cloned()
            .collect();
        check_grantable(access, &changed)?;
        let loses_owner = changed.iter().any(is_owner_role) && !new.iter().any(is_owner_role);
        if loses_owner && is_last_owner(unit.as_mut(), &all, user).await? {
            return Err(last_owner());
        }
        let ids: Vec<_> = new.iter().map(|r| r.id).collect();
        unit.set_member_roles(user, &ids).await?;
        unit.append_event(access.event(
            "member.roles_changed",
            Some(("user", user.to_string())),
            request,
            serde_json::json!({"roles": new.iter().map(|r| &r.name).collect::<Vec<_>>()}),
        ))
        .await?;
        let member = unit.member(user).await?.ok_or(TenancyError::NotFound)?;
        unit.commit().await?;
        self.cache.forget_org(access.org_id());
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
        let mut unit = self.store.begin_org(access.scope()).await?;
        // Serializes membership changes of the org: two owners leaving at once cannot
        // both pass the last-owner check.
        unit.lock_org().await?;
        let member = unit.member(user).await?.ok_or(TenancyError::NotFound)?;
        let all = unit.roles().await?;
        let held: Vec<Role> = all
            .iter()
            .filter(|r| member.role_ids.contains(&r.id))
            .cloned()
            .collect();
        if !leaving {
            check_grantable(access, &held)?;
        }
        if held.iter().any(is_owner_role) && is_last_owner(unit.as_mut(), &all, user).await? {
            return Err(last_owner());
        }
        unit.remove_member(user).await?;
        unit.append_event(access.event(
            if leaving {
                "member.left"
            } else {
                "member.removed"
            },
            Some(("user", user.to_string())),
            request,
            serde_json::json!({}),
        ))
        .await?;
        unit.commit().await?;
        self.cache.forget_org(access.org_id());
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
        let name = required_text("name", change.name.as_deref().unwrap_or_default(), 64)
            .map_err(|p| TenancyError::Invalid(vec![p]))?;
        let id = TeamId::new();
        let mut unit = self.store.begin_org(access.scope()).await?;
        if unit.teams().await?.len() >= limits::TEAMS {
            return Err(limit_reached("teams", limits::TEAMS));
        }
        unit.insert_team(id, &name).await.map_err(team_name_taken)?;
        self.grant_team_roles(
            access,
            unit.as_mut(),
            id,
            &change.roles.unwrap_or_default(),
            &[],
        )
        .await?;
        unit.append_event(access.event(
            "team.created",
            Some(("team", id.to_string())),
            request,
            serde_json::json!({"name": name}),
        ))
        .await?;
        let team = find_team(unit.as_mut(), id).await?;
        unit.commit().await?;
        Ok(team)
    }

    pub async fn update_team(
        &self,
        access: &OrgAccess,
        id: TeamId,
        change: TeamChange,
        request: &RequestMeta,
    ) -> Result<Team, TenancyError> {
        let mut unit = self.store.begin_org(access.scope()).await?;
        let team = find_team(unit.as_mut(), id).await?;
        if let Some(name) = &change.name {
            let name =
                required_text("name", name, 64).map_err(|p| TenancyError::Invalid(vec![p]))?;
            unit.rename_team(id, &name).await.map_err(team_name_taken)?;
        }
        if let Some(roles) = &change.roles {
            self.grant_team_roles(access, unit.as_mut(), id, roles, &team.role_ids)
                .await?;
        }
        unit.append_event(access.event(
            "team.updated",
            Some(("team", id.to_string())),
            request,
            serde_json::json!({}),
        ))
        .await?;
        let team = find_team(unit.as_mut(), id).await?;
        unit.commit().await?;
        self.cache.forget_org(access.org_id());
        Ok(team)
    }

    pub async fn delete_team(
        &self,
        access: &OrgAccess,
        id: TeamId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.store.begin_org(access.scope()).await?;
        let team = find_team(unit.as_mut(), id).await?;
        let all = unit.roles().await?;
        let held: Vec<Role> = all
            .into_iter()
            .filter(|r| team.role_ids.contains(&r.id))
            .collect();
        check_grantable(access, &held)?;
        unit.delete_team(id).await?;
        unit.append_event(access.event(
            "team.deleted",
            Some(("team", id.to_string())),
            request,
            serde_json::json!({}),
        ))
        .await?;
        unit.commit().await?;
        self.cache.forget_org(access.org_id());
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
        let mut unit = self.store.begin_org(access.scope()).await?;
        let team = find_team(unit.as_mut(), id).await?;
        let all = unit.roles().await?;
        let granted: Vec<Role> = all
            .into_iter()
            .filter(|r| team.role_ids.contains(&r.id))
            .collect();
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
        }
        unit.append_event(access.event(
            if member {
                "team.member_added"
            } else {
                "team.member_removed"
            },
            Some(("team", id.to_string())),
            request,
            serde_json::json!({"user_id": user}),
        ))
        .await?;
        let team = find_team(unit.as_mut(), id).await?;
        unit.commit().await?;
        self.cache.forget_org(access.org_id());
        Ok(team)
    }

    async fn grant_team_roles(
        &self,
        access: &OrgAccess,
        unit: &mut dyn OrgUnit,
        id: TeamId,
        references: &[String],
        current: &[tenantbase_domain::id::RoleId],
    ) -> Result<(), TenancyError> {
        let all = unit.roles().await?;
        let new = resolve_roles(unit, "roles", references).await?;
        let changed: Vec<Role> = all
            .iter()
            .filter(|r| current.contains(&r.id) != new.iter().any(|n| n.id == r.id))
            .cloned()
            .collect();
        check_grantable(access, &changed)?;
        let ids: Vec<_> = new.iter().map(|r| r.id).collect();
        unit.set_team_roles(id, &ids).await?;
        Ok(())
    }
}

async fn find_team(unit: &mut dyn OrgUnit, id: TeamId) -> Result<Team, TenancyError> {
    unit.teams()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .ok_or(TenancyError::NotFound)
}
