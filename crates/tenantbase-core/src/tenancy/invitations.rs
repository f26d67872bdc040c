//! Invitations: an emailed single-use link to join an org with given roles. The token
//! names its org (see `secrets`), is stored hashed, expires, and is accepted by a
//! signed-in user whose email matches — unless the inviter allowed any account. An
//! address has at most one pending invitation per org, and none while it is a member's.

use chrono::Utc;
use tenantbase_domain::id::InvitationId;
use tenantbase_domain::model::{Invitation, Org, RequestMeta};
use tenantbase_mail::MessageKind;
use tenantbase_store::{OrgScope, StoreError};

use super::access::OrgAccess;
use super::access::permissions_of;
use super::cache::OrgStale;
use super::roles::{check_grantable, is_owner_role, member_roles, org_roles, resolve_roles};
use super::secrets::{INVITATION, hash_secret, new_secret, secret_org};
use super::{FieldProblem, Tenancy, TenancyError, limit_reached, limits, now_micros};
use crate::identity::Principal;
use crate::mail::deliverable;
use crate::write::Change;

#[derive(Debug, Clone, Default)]
pub struct NewInvitation {
    pub email: String,
    /// Role ids or names; `None` means the built-in `member` role, and an empty list no
    /// role (as a member's roles can be set to none).
    pub roles: Option<Vec<String>>,
    pub any_email: bool,
    /// Problems found in the body already (a member of the wrong type, an absent field):
    /// refused with the fields' own, so one answer names every field.
    pub refused: Vec<FieldProblem>,
}

/// A stored invitation; its token went out by email only.
#[derive(Debug, Clone)]
pub struct SentInvitation {
    pub invitation: Invitation,
}

fn invalid_token() -> TenancyError {
    TenancyError::invalid("token", "is invalid, used, revoked or expired")
}

impl Tenancy {
    pub async fn invite(
        &self,
        access: &OrgAccess,
        new: NewInvitation,
        request: &RequestMeta,
    ) -> Result<SentInvitation, TenancyError> {
        let inviter = access.acting_user()?;
        // An unverified (or guest) account could otherwise mail anyone from our domain.
        let inviter_user = self.store.user_by_id(inviter).await?;
        if !inviter_user.email_verified {
            return Err(TenancyError::email_unverified("sending invitations"));
        }
        // The invitation email is queued in the unit that records the invitation.
        let email =
            deliverable(&new.email).map_err(|message| TenancyError::invalid("email", message));
        // A platform read: done before the unit, so it never holds the org's writer.
        let invitee = match &email {
            Ok(email) => self.store.user_by_email(email.as_str()).await?,
            Err(_) => None,
        };
        let references = new.roles.unwrap_or_else(|| vec!["member".to_owned()]);
        let now = now_micros();
        let mut unit = self.write(access.scope()).await?;
        let roles = resolve_roles(unit.as_mut(), "roles", &references).await;
        let (email, roles) =
            TenancyError::after_refused(new.refused, TenancyError::both(email, roles))?;
        check_grantable(access, &roles)?;
        // Two invitations to one address must not both pass the checks below (PostgreSQL;
        // a SQLite unit holds the write lock already).
        unit.lock_org().await?;
        if let Some(invitee) = invitee
            && unit.member(invitee.id).await?.is_some()
        {
            return Err(TenancyError::Conflict(
                "already_member",
                "This address belongs to a member of the org.".to_owned(),
            ));
        }
        let pending = unit.pending_invitations(now).await?;
        // Stored addresses are canonical (`Email`), so text equality is address equality.
        if let Some(existing) = pending.iter().find(|i| i.email == email.as_str()) {
            return Err(TenancyError::InvitationPending(existing.id));
        }
        if pending.len() >= limits::PENDING_INVITATIONS {
            return Err(limit_reached(
                "pending invitations",
                limits::PENDING_INVITATIONS,
            ));
        }
        // Spent only by an invitation that goes out: a mistyped one costs nothing.
        self.invitation_limits
            .spend(inviter, access.org_id())
            .map_err(|retry_after| TenancyError::RateLimited {
                message: "Too many invitations sent in the last hour; retry later.".to_owned(),
                retry_after,
            })?;
        let org = unit.org().await?;
        let token = new_secret(INVITATION, access.org_id())?;
        let invitation = Invitation {
            id: InvitationId::new(),
            email: email.as_str().to_owned(),
            role_ids: roles.iter().map(|r| r.id).collect(),
            any_email: new.any_email,
            invited_by: inviter,
            created_at: now,
            expires_at: now
                + chrono::Duration::from_std(self.policy.invitation_ttl).unwrap_or_default(),
            accepted_at: None,
            revoked_at: None,
        };
        unit.insert_invitation(&invitation, &hash_secret(&token))
            .await?;
        let links = self.links();
        let message = MessageKind::Invitation {
            inviter_name: inviter_user.display_name,
            org_name: org.name,
            link: format!(
                "{}/accept-invitation?token={token}",
                links.app_url.trim_end_matches('/')
            ),
        };
        let job = links
            .mailer
            .job(invitation.email.as_str(), &message)
            .map_err(|e| TenancyError::Internal(e.to_string()))?;
        unit.enqueue_job(job).await?;
        let event = access.event(
            "invitation.sent",
            Some(("invitation", invitation.id.to_string())),
            request,
            serde_json::json!({"email": invitation.email, "roles": roles.iter().map(|r| &r.name).collect::<Vec<_>>()}),
        );
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(SentInvitation { invitation })
    }

    pub async fn invitations(&self, access: &OrgAccess) -> Result<Vec<Invitation>, TenancyError> {
        Ok(self
            .store
            .read_org(access.scope())
            .await?
            .pending_invitations(Utc::now())
            .await?)
    }

    pub async fn revoke_invitation(
        &self,
        access: &OrgAccess,
        id: InvitationId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        if !unit.revoke_invitation(id, now_micros()).await? {
            return Err(TenancyError::NotFound);
        }
        let event = access.event(
            "invitation.revoked",
            Some(("invitation", id.to_string())),
            request,
            serde_json::json!({}),
        );
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(())
    }

    /// Joins the invitation's org as the signed-in caller.
    pub async fn accept_invitation(
        &self,
        principal: &Principal,
        token: &str,
        request: &RequestMeta,
    ) -> Result<Org, TenancyError> {
        let org_id = secret_org(INVITATION, token.trim()).ok_or_else(invalid_token)?;
        let user = self.store.user_by_id(principal.user_id).await?;
        let now = now_micros();
        // The token is the authorization: whoever holds a live one may join its org.
        let mut unit = self.write(&OrgScope::for_checked_org(org_id)).await?;
        // Accepts take turns (PostgreSQL; a SQLite unit holds the write lock already): two
        // invitations accepted at once by one user must not both find them a non-member.
        unit.lock_org().await.map_err(|error| match error {
            StoreError::NotFound => invalid_token(),
            other => other.into(),
        })?;
        let invitation = unit
            .invitation_by_token(&hash_secret(token.trim()))
            .await?
            .filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > now)
            .ok_or_else(invalid_token)?;
        let org = unit.org().await?;
        if org.deleted_at.is_some() {
            return Err(invalid_token());
        }
        // The address must be the invitee's own: matching and verified.
        let owns_address =
            user.email.as_deref() == Some(invitation.email.as_str()) && user.email_verified;
        if !invitation.any_email && !owns_address {
            return Err(TenancyError::NotAllowed(
                "invitation_email_mismatch",
                "This invitation is for another, or an unverified, email address.".to_owned(),
            ));
        }
        // The roles are granted now: the inviter must still be able to grant them.
        let granted: Vec<_> = org_roles(unit.as_mut())
            .await?
            .into_iter()
            .filter(|role| invitation.role_ids.contains(&role.id))
            .collect();
        let inviter = member_roles(unit.as_mut(), invitation.invited_by)
            .await?
            .unwrap_or_default();
        let inviter_permissions = permissions_of(&inviter);
        let grants_owner = granted.iter().any(is_owner_role);
        if !permissions_of(&granted).is_subset_of(inviter_permissions)
            || (grants_owner
                && !inviter_permissions.contains(tenantbase_domain::Permission::OwnersManage))
        {
            return Err(TenancyError::NotAllowed(
                "inviter_lacks_permission",
                "The inviter can no longer grant these roles; ask for a new invitation.".to_owned(),
            ));
        }
        if unit.member(user.id).await?.is_some() {
            return Err(TenancyError::Conflict(
                "already_member",
                "You are already a member of this org.".to_owned(),
            ));
        }
        if !unit.accept_invitation(invitation.id, user.id, now).await? {
            return Err(invalid_token());
        }
        unit.add_member(user.id, &invitation.role_ids).await?;
        let access = OrgAccess::of_invitee(org_id, user.id);
        let accepted = access.event(
            "invitation.accepted",
            Some(("invitation", invitation.id.to_string())),
            request,
            serde_json::json!({"user_id": user.id}),
        );
        let added = access.event(
            "member.added",
            Some(("user", user.id.to_string())),
            request,
            serde_json::json!({"invitation_id": invitation.id, "role_ids": invitation.role_ids}),
        );
        unit.commit(Change::new(OrgStale::Membership, accepted).and(added))
            .await?;
        Ok(org)
    }
}
