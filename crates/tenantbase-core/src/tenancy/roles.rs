//! Roles: the built-in five (read-only) and each org's custom roles. Nobody grants what
//! they do not hold: a role's permissions, and the roles given to members, teams and
//! invitations, must lie within the caller's own permissions, and only owners grant or
//! take away the owner role.
//!
//! A built-in role's permissions come from code (`BuiltinRole::permissions`), never from
//! its row: every read of roles goes through `org_roles`/`member_roles`, so a permission
//! added to the catalog reaches every org without a data migration.

use tenantbase_domain::id::{RoleId, UserId};
use tenantbase_domain::model::{RequestMeta, Role};
use tenantbase_domain::{BuiltinRole, Permission, PermissionSet};
use tenantbase_store::{OrgUnit, StoreError};
use unicode_normalization::UnicodeNormalization;

use super::access::{OrgAccess, permissions_of};
use super::cache::OrgStale;
use super::{
    FieldProblem, Tenancy, TenancyError, is_invisible_format, limit_reached, limits, now_micros,
    required_text,
};
use crate::write::Change;

/// A custom role's fields; on update, `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct RoleChange {
    pub name: Option<String>,
    pub description: Option<String>,
    pub permissions: Option<Vec<String>>,
    /// Problems found before the change got here (a field sent as `null` that cannot be,
    /// or of the wrong type): refused with the change's own, so one answer names every field.
    pub refused: Vec<FieldProblem>,
}

/// `role` as it grants: a built-in role with its permissions from code (an unknown
/// built-in name grants nothing), a custom role as stored.
fn as_granted(mut role: Role) -> Role {
    if role.builtin {
        let builtin = BuiltinRole::by_name(&role.name);
        role.permissions = builtin
            .map(BuiltinRole::permissions)
            .unwrap_or_default()
            .names();
    }
    role
}

/// The unit's org's roles, as they grant.
pub(super) async fn org_roles(unit: &mut dyn OrgUnit) -> Result<Vec<Role>, TenancyError> {
    Ok(unit.roles().await?.into_iter().map(as_granted).collect())
}

/// Every role `user` holds in the unit's org, directly or through teams, as they grant;
/// `None` if not a member.
pub(super) async fn member_roles(
    unit: &mut dyn OrgUnit,
    user: UserId,
) -> Result<Option<Vec<Role>>, TenancyError> {
    let roles = unit.roles_of_member(user).await?;
    Ok(roles.map(|roles| roles.into_iter().map(as_granted).collect()))
}

/// The names events list roles by.
pub(super) fn role_names(roles: &[Role]) -> Vec<&str> {
    roles.iter().map(|role| role.name.as_str()).collect()
}

/// Resolves role references — ids (`rol_…`) or names — against the org's roles.
pub(super) async fn resolve_roles(
    unit: &mut dyn OrgUnit,
    field: &str,
    references: &[String],
) -> Result<Vec<Role>, TenancyError> {
    check_listed(field, references)?;
    let roles = org_roles(unit).await?;
    let mut chosen: Vec<Role> = Vec::new();
    let mut problems = Vec::new();
    for (i, reference) in references.iter().enumerate() {
        match find_role(&roles, reference) {
            Some(role) if !chosen.iter().any(|c| c.id == role.id) => chosen.push(role.clone()),
            Some(_) => {}
            None => problems.push(FieldProblem::new(
                format!("{field}[{i}]"),
                "no such role in this org",
            )),
        }
    }
    if problems.is_empty() {
        Ok(chosen)
    } else {
        Err(TenancyError::Invalid(problems))
    }
}

/// The role `reference` names among `roles`. A reference shaped like a role id is an
/// id, never a name: a role named like another's id must not stand in for it.
fn find_role<'r>(roles: &'r [Role], reference: &str) -> Option<&'r Role> {
    match reference.parse::<RoleId>() {
        Ok(id) => roles.iter().find(|role| role.id == id),
        // Names are kept in NFC; a reference may come composed otherwise.
        Err(_) => roles
            .iter()
            .find(|role| role.name.nfc().eq(reference.nfc())),
    }
}

/// Refuses to grant (or take away) roles beyond the caller's own reach.
pub(super) fn check_grantable(access: &OrgAccess, changed: &[Role]) -> Result<(), TenancyError> {
    check_owner_reach(access, changed)?;
    if !permissions_of(changed).is_subset_of(access.permissions()) {
        return Err(exceeds_own());
    }
    Ok(())
}

/// Refuses to touch the owner role among `roles` (granted, taken away, or held by the
/// member being changed) without `owners:manage`.
pub(super) fn check_owner_reach(access: &OrgAccess, roles: &[Role]) -> Result<(), TenancyError> {
    if roles.iter().any(is_owner_role) && !access.has(Permission::OwnersManage) {
        return Err(TenancyError::NotAllowed(
            "owners_only",
            "Only owners can change owners or grant or take away the owner role.".to_owned(),
        ));
    }
    Ok(())
}

pub(super) fn exceeds_own() -> TenancyError {
    TenancyError::NotAllowed(
        "exceeds_own_permissions",
        "You cannot grant permissions you do not hold.".to_owned(),
    )
}

pub(super) fn is_owner_role(role: &Role) -> bool {
    role.builtin && role.name == BuiltinRole::Owner.name()
}

/// Parses permission names; unknown ones are field errors.
pub(super) fn parse_permissions(
    field: &str,
    names: &[String],
) -> Result<PermissionSet, TenancyError> {
    check_listed(field, names)?;
    let problems: Vec<FieldProblem> = names
        .iter()
        .enumerate()
        .filter(|(_, name)| Permission::parse(name).is_none())
        .map(|(i, name)| {
            FieldProblem::new(
                format!("{field}[{i}]"),
                format!("unknown permission `{name}`"),
            )
        })
        .collect();
    if !problems.is_empty() {
        return Err(TenancyError::Invalid(problems));
    }
    Ok(names.iter().filter_map(|n| Permission::parse(n)).collect())
}

/// Refuses a list of roles or permissions longer than any org could need.
fn check_listed(field: &str, entries: &[String]) -> Result<(), TenancyError> {
    if entries.len() > limits::LISTED {
        return Err(TenancyError::invalid(
            field,
            format!("at most {} entries", limits::LISTED),
        ));
    }
    Ok(())
}

fn name_taken(error: StoreError) -> TenancyError {
    match error {
        StoreError::Conflict { .. } => role_name_taken(),
        other => other.into(),
    }
}

fn role_name_taken() -> TenancyError {
    TenancyError::Conflict(
        "role_name_taken",
        "A role with this name exists in the org.".to_owned(),
    )
}

/// How a role's (or a team's) name reads: NFKC, lowercase. Members pick roles and teams
/// by name, so two that read the same — `Auditor` beside `auditor`, `é` as one code point
/// beside `e` and a combining accent, a fullwidth `ａｕｄｉｔｏｒ` beside `auditor` — must
/// not both exist.
pub(super) fn name_key(name: &str) -> String {
    name.nfkc()
        .collect::<String>()
        .to_lowercase()
        .nfkc()
        .collect()
}

/// Refuses `name` for role `own` if another custom role among `roles` reads the same.
/// The database's unique index compares bytes only; this check is what holds, so callers
/// lock the org row before reading `roles` (PostgreSQL; SQLite units hold the one
/// writer). No index enforces it, so databases already holding such a pair still
/// migrate.
fn check_name_free(roles: &[Role], name: &str, own: RoleId) -> Result<(), TenancyError> {
    let key = name_key(name);
    let taken = roles
        .iter()
        .any(|r| !r.builtin && r.id != own && name_key(&r.name) == key);
    if taken {
        return Err(role_name_taken());
    }
    Ok(())
}

/// The custom role `id` among the org's `roles`; built-in ones are read-only (409).
fn custom_role(roles: &[Role], id: RoleId) -> Result<Role, TenancyError> {
    let role = roles
        .iter()
        .find(|r| r.id == id)
        .ok_or(TenancyError::NotFound)?;
    if role.builtin {
        return Err(read_only());
    }
    Ok(role.clone())
}

fn read_only() -> TenancyError {
    TenancyError::Conflict(
        "builtin_role",
        "Built-in roles cannot be changed or deleted.".to_owned(),
    )
}

/// `name` checked and in NFC (`required_text` composes it), as it is kept.
fn valid_name(name: &str) -> Result<String, TenancyError> {
    let name = required_text("name", name, 64).map_err(|p| TenancyError::Invalid(vec![p]))?;
    // Listed beside the built-in roles, `Owner` or a fullwidth `ｏｗｎｅｒ` would pass for
    // `owner`: any case, and any compatibility form (NFKC), is refused.
    let folded = name_key(&name);
    if BuiltinRole::ALL
        .iter()
        .any(|builtin| builtin.name() == folded)
    {
        return Err(TenancyError::invalid(
            "name",
            "is the name of a built-in role (in any case or width)",
        ));
    }
    if name.parse::<RoleId>().is_ok() {
        return Err(TenancyError::invalid(
            "name",
            "is shaped like a role id (rol_…), which references take as an id",
        ));
    }
    Ok(name)
}

/// Most characters of a role's description: roles are read whole on every listing.
const DESCRIPTION_MAX: usize = 500;

fn valid_description(description: &str) -> Result<String, TenancyError> {
    let description = description.trim();
    if description.chars().count() > DESCRIPTION_MAX {
        return Err(TenancyError::invalid(
            "description",
            format!("must be at most {DESCRIPTION_MAX} characters"),
        ));
    }
    // Shown beside the name wherever roles are listed: lines and tabs lay it out, other
    // control and invisible characters would hide or reorder what it says.
    let hidden =
        |c: char| (c.is_control() && !matches!(c, '\n' | '\r' | '\t')) || is_invisible_format(c);
    if description.chars().any(hidden) {
        return Err(TenancyError::invalid(
            "description",
            "must not contain control characters other than line breaks and tab, nor invisible formatting characters",
        ));
    }
    Ok(description.to_owned())
}

/// The fields a role change gives, checked; every invalid one is named at once.
struct RoleFields {
    name: Option<String>,
    description: Option<String>,
    permissions: Option<PermissionSet>,
}

fn role_fields(change: RoleChange) -> Result<RoleFields, TenancyError> {
    let name = change.name.as_deref().map(valid_name).transpose();
    let description = change
        .description
        .as_deref()
        .map(valid_description)
        .transpose();
    let permissions = change
        .permissions
        .as_deref()
        .map(|names| parse_permissions("permissions", names))
        .transpose();
    let fields = match (name, description, permissions) {
        (Ok(name), Ok(description), Ok(permissions)) => Ok(RoleFields {
            name,
            description,
            permissions,
        }),
        (name, description, permissions) => Err(TenancyError::all_of([
            name.err(),
            description.err(),
            permissions.err(),
        ])),
    };
    TenancyError::after_refused(change.refused, fields)
}

impl Tenancy {
    pub async fn roles(&self, access: &OrgAccess) -> Result<Vec<Role>, TenancyError> {
        let mut unit = self.store.read_org(access.scope()).await?;
        org_roles(unit.as_mut()).await
    }

    pub async fn create_role(
        &self,
        access: &OrgAccess,
        change: RoleChange,
        request: &RequestMeta,
    ) -> Result<Role, TenancyError> {
        // A new role has a name and permissions, given or not.
        let fields = role_fields(RoleChange {
            name: Some(change.name.unwrap_or_default()),
            permissions: Some(change.permissions.unwrap_or_default()),
            ..change
        })?;
        let permissions = fields.permissions.unwrap_or_default();
        if !permissions.is_subset_of(access.permissions()) {
            return Err(exceeds_own());
        }
        let now = now_micros();
        let role = Role {
            id: RoleId::new(),
            name: fields.name.unwrap_or_default(),
            description: fields.description.unwrap_or_default(),
            permissions: permissions.names(),
            builtin: false,
            created_at: now,
            updated_at: now,
        };
        let mut unit = self.write(access.scope()).await?;
        // Serializes role changes of the org: two creates cannot both pass the checks.
        unit.lock_org().await?;
        let roles = org_roles(unit.as_mut()).await?;
        let custom = roles.iter().filter(|r| !r.builtin).count();
        if custom >= limits::CUSTOM_ROLES {
            return Err(limit_reached("custom roles", limits::CUSTOM_ROLES));
        }
        check_name_free(&roles, &role.name, role.id)?;
        unit.insert_role(&role).await.map_err(name_taken)?;
        let event = access.event(
            "role.created",
            Some(("role", role.id.to_string())),
            request,
            serde_json::json!({"name": role.name, "permissions": role.permissions}),
        );
        unit.commit(Change::new(OrgStale::Roles, event)).await?;
        Ok(role)
    }

    pub async fn update_role(
        &self,
        access: &OrgAccess,
        id: RoleId,
        change: RoleChange,
        request: &RequestMeta,
    ) -> Result<Role, TenancyError> {
        let fields = role_fields(change)?;
        let mut unit = self.write(access.scope()).await?;
        unit.lock_org().await?;
        let roles = org_roles(unit.as_mut()).await?;
        let mut role = custom_role(&roles, id)?;
        // Changing a role changes what its holders can do: only within the caller's reach.
        check_grantable(access, std::slice::from_ref(&role))?;
        if let Some(permissions) = fields.permissions {
            if !permissions.is_subset_of(access.permissions()) {
                return Err(exceeds_own());
            }
            role.permissions = permissions.names();
        }
        if let Some(name) = fields.name {
            // Only a new name is checked: a role of a pair that predates the check keeps
            // its own.
            if name != role.name {
                check_name_free(&roles, &name, role.id)?;
            }
            role.name = name;
        }
        role.description = fields.description.unwrap_or(role.description);
        role.updated_at = now_micros();
        unit.update_role(&role).await.map_err(name_taken)?;
        let event = access.event(
            "role.updated",
            Some(("role", role.id.to_string())),
            request,
            serde_json::json!({"name": role.name, "permissions": role.permissions}),
        );
        unit.commit(Change::new(OrgStale::Roles, event)).await?;
        Ok(role)
    }

    pub async fn delete_role(
        &self,
        access: &OrgAccess,
        id: RoleId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        let role = custom_role(&org_roles(unit.as_mut()).await?, id)?;
        if unit.role_in_use(id, chrono::Utc::now()).await? {
            return Err(TenancyError::Conflict(
                "role_in_use",
                "The role is granted to members, teams or pending invitations; reassign them first.".to_owned(),
            ));
        }
        unit.delete_role(id).await?;
        let event = access.event(
            "role.deleted",
            Some(("role", id.to_string())),
            request,
            serde_json::json!({"name": role.name}),
        );
        unit.commit(Change::new(OrgStale::Roles, event)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, builtin: bool, permissions: &[&str]) -> Role {
        let now = chrono::Utc::now();
        Role {
            id: RoleId::new(),
            name: name.to_owned(),
            description: String::new(),
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            builtin,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn a_role_id_reference_finds_that_role_even_behind_one_named_like_it() {
        let narrow = row("narrow", false, &["audit:read"]);
        let squatter = row(&narrow.id.to_string(), false, &["org:delete"]);
        let roles = [squatter.clone(), narrow.clone()];
        let by_id = find_role(&roles, &narrow.id.to_string()).expect("found");
        assert_eq!(by_id.id, narrow.id);
        assert_eq!(find_role(&roles, "narrow").map(|r| r.id), Some(narrow.id));
        let unknown = RoleId::new().to_string();
        assert!(find_role(&roles, &unknown).is_none());
    }

    #[test]
    fn built_in_roles_grant_what_code_says_whatever_their_row_holds() {
        for builtin in BuiltinRole::ALL {
            for stored in [&[][..], &["org:delete"][..]] {
                let granted = as_granted(row(builtin.name(), true, stored));
                assert_eq!(granted.permissions, builtin.permissions().names());
            }
        }
        let unknown = as_granted(row("auditor", true, &["audit:read"]));
        assert!(
            unknown.permissions.is_empty(),
            "an unknown built-in grants nothing"
        );
    }

    #[test]
    fn custom_roles_grant_what_their_row_holds() {
        // Named like a built-in one, yet custom: its row decides.
        let custom = row("owner", false, &["projects:read"]);
        assert_eq!(as_granted(custom.clone()), custom);
    }
}
