//! Authorization: from a credential and an org to an `OrgAccess`, or a refusal in the
//! order clients rely on — no valid credential 401, not a member (or another org's
//! token or key) 404, a member lacking the permission 403.

use std::sync::Arc;

use chrono::Utc;
use tenantbase_domain::id::{ApiKeyId, UserId};
use tenantbase_domain::model::{Actor, ApiKey, RequestMeta, Role, Target};
use tenantbase_domain::{OrgId, Permission, PermissionSet};
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{OrgScope, OrgUnit};

use super::cache::{KeyGrant, MemberGrant};
use super::roles::member_roles;
use super::secrets::{API_KEY, hash_secret, secret_org};
use super::{Tenancy, TenancyError};
use crate::identity::Principal;

/// What a route requires of its caller, declared once per route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, signed in or not.
    Public,
    /// A signed-in user acting on their own account (no org in the path). A token bound
    /// to an org is refused here: it acts only on that org's routes.
    SignedIn,
    /// Any valid credential asking who it is (`/v1/auth/me`, forward-auth), org-bound
    /// tokens included: nothing behind it acts on the account.
    Introspect,
    /// Any member of the path's org, whatever their permissions.
    Member,
    /// A member leaving the path's org, whatever their permissions, and without the
    /// second factor the org may require, so that a member who will not enrol one can
    /// still go. Leaving also revokes the member's API keys there: the route asks such a
    /// session for a recent sign-in instead.
    Leaving,
    /// A member or API key holding this permission in the path's org.
    Permission(Permission),
}

impl Access {
    /// How the declaration reads in the OpenAPI document (`x-access`).
    pub fn label(self) -> String {
        match self {
            Access::Public => "public".to_owned(),
            Access::SignedIn => "signed_in".to_owned(),
            Access::Introspect => "introspect".to_owned(),
            Access::Member => "member".to_owned(),
            Access::Leaving => "leaving".to_owned(),
            Access::Permission(permission) => permission.name().to_owned(),
        }
    }
}

/// A bearer credential: a user's access token (already verified) or an API key.
#[derive(Clone)]
pub enum Credential {
    User(Principal),
    ApiKey(String),
}

/// Never prints a key's secret.
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::User(principal) => f.debug_tuple("User").field(principal).finish(),
            Credential::ApiKey(_) => f.write_str("ApiKey(<redacted>)"),
        }
    }
}

impl Credential {
    /// Whether a bearer value is shaped like an API key rather than an access token.
    pub fn is_api_key(bearer: &str) -> bool {
        bearer.starts_with("tb_")
    }
}

/// The proof that a caller was authorized in one org. Only `Tenancy::authorize` makes
/// one, and only an `OrgAccess` yields the `OrgScope` that opens units on the org's rows.
#[derive(Debug, Clone)]
pub struct OrgAccess {
    scope: OrgScope,
    actor: Actor,
    user: Option<UserId>,
    /// The user answerable for the caller's actions: the user, or a key's creator.
    accountable: UserId,
    permissions: PermissionSet,
    roles: Arc<[String]>,
    /// The caller is a user whose session was signed in with a second factor.
    second_factor: bool,
}

impl OrgAccess {
    pub fn org_id(&self) -> OrgId {
        self.scope.org_id()
    }

    pub(crate) fn scope(&self) -> &OrgScope {
        &self.scope
    }

    pub fn actor(&self) -> &Actor {
        &self.actor
    }

    /// The signed-in user; `None` for API keys.
    pub fn user(&self) -> Option<UserId> {
        self.user
    }

    /// The user, or for an API key the user who created it (e.g. `created_by` of rows).
    pub fn accountable_user(&self) -> UserId {
        self.accountable
    }

    pub fn permissions(&self) -> PermissionSet {
        self.permissions
    }

    /// Names of the roles held (directly or through teams); empty for API keys.
    pub fn roles(&self) -> &[String] {
        &self.roles
    }

    /// Whether the caller is a user signed in with a second factor (API keys are not).
    pub fn used_second_factor(&self) -> bool {
        self.second_factor
    }

    pub fn has(&self, permission: Permission) -> bool {
        self.permissions.contains(permission)
    }

    pub(crate) fn require(&self, permission: Permission) -> Result<(), TenancyError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(TenancyError::Forbidden(permission))
        }
    }

    /// The user behind a change that only users may make (API keys cannot).
    pub(crate) fn acting_user(&self) -> Result<UserId, TenancyError> {
        self.user.ok_or(TenancyError::NotAllowed(
            "user_required",
            "Only a signed-in user can do this, not an API key.".to_owned(),
        ))
    }

    /// An event of this org, caused by this caller.
    pub(crate) fn event(
        &self,
        event_type: &str,
        target: Option<(&str, String)>,
        request: &RequestMeta,
        payload: serde_json::Value,
    ) -> NewEvent {
        NewEvent {
            org_id: Some(self.org_id()),
            event_type: event_type.to_owned(),
            actor: self.actor.clone(),
            target: target.map(|(kind, id)| Target {
                kind: kind.to_owned(),
                id,
            }),
            request: request.clone(),
            payload,
        }
    }

    /// The acting identity of a user who just joined `org` by invitation: it signs the
    /// acceptance event and can do nothing else.
    pub(super) fn of_invitee(org: OrgId, user: UserId) -> Self {
        Self {
            scope: OrgScope::for_checked_org(org),
            actor: Actor::User(user.to_string()),
            user: Some(user),
            accountable: user,
            permissions: PermissionSet::EMPTY,
            roles: Arc::from(Vec::new()),
            second_factor: false,
        }
    }

    /// A member's access, as `grant` allows (no second factor shown).
    fn of_member(user: UserId, org: OrgId, grant: MemberGrant) -> Self {
        Self {
            scope: OrgScope::for_checked_org(org),
            actor: Actor::User(user.to_string()),
            user: Some(user),
            accountable: user,
            permissions: grant.permissions,
            roles: grant.roles,
            second_factor: false,
        }
    }

    /// The access of a user who just created `org` (the creator is its owner).
    pub(super) fn of_creator(org: OrgId, user: UserId) -> Self {
        Self {
            scope: OrgScope::for_checked_org(org),
            actor: Actor::User(user.to_string()),
            user: Some(user),
            accountable: user,
            permissions: PermissionSet::all(),
            roles: Arc::from(vec!["owner".to_owned()]),
            second_factor: false,
        }
    }
}

/// The permissions a set of roles grants together (unknown names grant nothing).
pub(super) fn permissions_of(roles: &[Role]) -> PermissionSet {
    roles
        .iter()
        .flat_map(|role| role.permissions.iter())
        .filter_map(|name| Permission::parse(name))
        .collect()
}

impl Tenancy {
    /// Authorizes `credential` in `org`, requiring `permission` (or mere membership when
    /// `None`). A soft-deleted org answers 404, except to `org:delete`, which restores it.
    pub async fn authorize(
        &self,
        credential: &Credential,
        org: OrgId,
        permission: Option<Permission>,
    ) -> Result<OrgAccess, TenancyError> {
        self.authorize_as(credential, org, permission, true).await
    }

    /// Authorizes `credential` to leave `org` (`Access::Leaving`): as a member, whether or
    /// not the org requires a second factor (the route judges what stands in for it).
    pub async fn authorize_leaving(
        &self,
        credential: &Credential,
        org: OrgId,
    ) -> Result<OrgAccess, TenancyError> {
        self.authorize_as(credential, org, None, false).await
    }

    /// `authorize`, with the org's second-factor requirement applied or not.
    async fn authorize_as(
        &self,
        credential: &Credential,
        org: OrgId,
        permission: Option<Permission>,
        second_factor_applies: bool,
    ) -> Result<OrgAccess, TenancyError> {
        let allow_deleted = permission == Some(Permission::OrgDelete);
        let access = match credential {
            Credential::User(principal) => {
                // An org-bound token acts only in its own org.
                if principal.org.is_some_and(|bound| bound != org) {
                    return Err(TenancyError::NotFound);
                }
                let grant = self
                    .live_member_grant(principal.user_id, org, allow_deleted)
                    .await?;
                if second_factor_applies && grant.org_requires_mfa && !principal.used_mfa() {
                    return Err(TenancyError::MfaRequired);
                }
                OrgAccess {
                    second_factor: principal.used_mfa(),
                    ..OrgAccess::of_member(principal.user_id, org, grant)
                }
            }
            Credential::ApiKey(secret) => {
                let key_org = secret_org(API_KEY, secret).ok_or(TenancyError::Unauthenticated)?;
                let grant = self
                    .key_grant(key_org, secret)
                    .await?
                    .ok_or(TenancyError::Unauthenticated)?;
                // A key acts only in its own org; elsewhere the org does not exist for it.
                if key_org != org || (grant.org_deleted && !allow_deleted) {
                    return Err(TenancyError::NotFound);
                }
                OrgAccess {
                    scope: OrgScope::for_checked_org(org),
                    actor: Actor::ApiKey(grant.key.id.to_string()),
                    user: None,
                    accountable: grant.key.created_by,
                    permissions: grant.permissions,
                    roles: Arc::from(Vec::new()),
                    second_factor: false,
                }
            }
        };
        if let Some(permission) = permission {
            access.require(permission)?;
        }
        Ok(access)
    }

    /// What `user` may do in `org` now, as its member; `NotFound` if they are not one.
    pub(super) async fn member_access(
        &self,
        user: UserId,
        org: OrgId,
        allow_deleted: bool,
    ) -> Result<OrgAccess, TenancyError> {
        let grant = self.live_member_grant(user, org, allow_deleted).await?;
        Ok(OrgAccess::of_member(user, org, grant))
    }

    /// `user`'s grant as a member of `org`; `NotFound` if they are not one.
    async fn live_member_grant(
        &self,
        user: UserId,
        org: OrgId,
        allow_deleted: bool,
    ) -> Result<MemberGrant, TenancyError> {
        match self.member_grant(user, org).await? {
            Some(grant) if allow_deleted || !grant.org_deleted => Ok(grant),
            _ => Err(TenancyError::NotFound),
        }
    }

    /// What the API key `id` may do in `org` now, if it is still live (for grants it made
    /// earlier, such as presigned URLs); `NotFound` otherwise.
    pub(super) async fn key_access(
        &self,
        id: ApiKeyId,
        org: OrgId,
    ) -> Result<OrgAccess, TenancyError> {
        let mut unit = self.store.read_org(&OrgScope::for_checked_org(org)).await?;
        let key = unit.api_keys().await?.into_iter().find(|k| k.id == id);
        let grant = match key {
            Some(key) => live_key_grant(unit.as_mut(), key, Utc::now()).await?,
            None => None,
        };
        match grant {
            Some(grant) if !grant.org_deleted => Ok(OrgAccess {
                scope: OrgScope::for_checked_org(org),
                actor: Actor::ApiKey(id.to_string()),
                user: None,
                accountable: grant.key.created_by,
                permissions: grant.permissions,
                roles: Arc::from(Vec::new()),
                second_factor: false,
            }),
            _ => Err(TenancyError::NotFound),
        }
    }

    /// An API key's access in its own org, for routes without an org in the path (the
    /// org list, gateway verification): any valid key, whatever its permissions.
    pub async fn api_key_access(&self, secret: &str) -> Result<OrgAccess, TenancyError> {
        let org = secret_org(API_KEY, secret).ok_or(TenancyError::Unauthenticated)?;
        match self
            .authorize(&Credential::ApiKey(secret.to_owned()), org, None)
            .await
        {
            // The key's org was deleted: the key is as good as revoked.
            Err(TenancyError::NotFound) => Err(TenancyError::Unauthenticated),
            other => other,
        }
    }

    pub(super) async fn member_grant(
        &self,
        user: UserId,
        org: OrgId,
    ) -> Result<Option<MemberGrant>, TenancyError> {
        if let Some(grant) = self.cache.member(user, org) {
            return Ok(grant);
        }
        let mark = self.cache.mark();
        let mut unit = self.store.read_org(&OrgScope::for_checked_org(org)).await?;
        let grant = load_member_grant(unit.as_mut(), user).await?;
        self.cache.remember_member(mark, (user, org), grant.clone());
        Ok(grant)
    }

    async fn key_grant(&self, org: OrgId, secret: &str) -> Result<Option<KeyGrant>, TenancyError> {
        let hash = hash_secret(secret);
        let now = Utc::now();
        if let Some(grant) = self.cache.key(org, &hash) {
            return Ok(grant.filter(|grant| grant.live_at(now)));
        }
        let mark = self.cache.mark();
        let mut unit = self.store.read_org(&OrgScope::for_checked_org(org)).await?;
        let grant = match unit.api_key_by_secret(&hash).await? {
            Some(key) => live_key_grant(unit.as_mut(), key, now).await?,
            None => None,
        };
        drop(unit);
        if let Some(grant) = &grant {
            let stale = grant
                .key
                .last_used_at
                .is_none_or(|at| now - at >= chrono::Duration::minutes(1));
            if stale {
                // Last use is recorded at most once a minute (and once per cache fill).
                let mut write = self
                    .store
                    .begin_org(&OrgScope::for_checked_org(org))
                    .await?;
                write.touch_api_key(grant.key.id, now).await?;
                write.commit().await?;
            }
        }
        self.cache.remember_key(mark, (org, hash), grant.clone());
        Ok(grant)
    }
}

/// What a key may do now, if it is live: its own permissions cut to what its creator
/// holds now — a creator who lost a permission takes it from their keys too, and one who
/// left takes the keys.
async fn live_key_grant(
    unit: &mut dyn OrgUnit,
    key: ApiKey,
    now: chrono::DateTime<Utc>,
) -> Result<Option<KeyGrant>, TenancyError> {
    if key.revoked_at.is_some() || key.expires_at.is_some_and(|at| at <= now) {
        return Ok(None);
    }
    // A key whose creator is no longer a member is as good as revoked: 401 everywhere,
    // not an org that vanished for it (404) or a route it lacks the right to (403).
    let Some(creator) = load_member_grant(unit, key.created_by).await? else {
        return Ok(None);
    };
    let own: PermissionSet = key
        .permissions
        .iter()
        .filter_map(|n| Permission::parse(n))
        .collect();
    Ok(Some(KeyGrant {
        permissions: own.intersection(creator.permissions),
        org_deleted: creator.org_deleted,
        key,
    }))
}

/// A user's grant in the unit's org, or `None` when not a member or the org is gone.
async fn load_member_grant(
    unit: &mut dyn OrgUnit,
    user: UserId,
) -> Result<Option<MemberGrant>, TenancyError> {
    let org = match unit.org().await {
        Ok(org) => org,
        Err(tenantbase_store::StoreError::NotFound) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    let Some(roles) = member_roles(unit, user).await? else {
        return Ok(None);
    };
    Ok(Some(MemberGrant {
        permissions: permissions_of(&roles),
        roles: roles.into_iter().map(|r| r.name).collect::<Vec<_>>().into(),
        org_deleted: org.deleted_at.is_some(),
        org_requires_mfa: org.require_mfa,
    }))
}
