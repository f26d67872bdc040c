//! Handlers of the org, membership and invitation routes.

use std::cmp::Reverse;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tenantbase_core::tenancy::{Credential, MemberChange, NewInvitation, OrgChange};
use tenantbase_domain::id::{InvitationId, UserId};
use tenantbase_domain::page::Cursor;
use tenantbase_domain::{OrgId, Permission};

use super::dto::{
    AcceptBody, CreateOrgBody, InvitationView, InviteBody, MemberView, MyAccessView, OrgTokenBody,
    OrgTokenResponse, OrgView, Page, PageQuery, PermissionView, SetRolesBody, UpdateOrgBody,
};
use super::{field_id, path_id};
use crate::auth::step_up::require_recent_sign_in;
use crate::extract::{Authenticated, Bearer, OrgCtx, RequestInfo};
use crate::paging::page_of;
use crate::problem::Problem;
use crate::query::ApiQuery;
use crate::{ApiCreate, ApiError, ApiJson, ApiPatch, AppState};

/// The permission catalog: every permission a role or API key can hold, grouped by
/// what they act on (the order `…/me` lists a member's permissions in).
#[utoipa::path(get, path = "/v1/permissions", tag = "orgs", params(PageQuery),
    responses((status = 200, description = "The catalog", body = Page<PermissionView>)))]
pub(crate) async fn permissions(
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<PermissionView>>, ApiError> {
    let catalog = Permission::ALL
        .iter()
        .map(|p| PermissionView {
            name: p.name(),
            description: p.description(),
        })
        .enumerate()
        .collect();
    let page = page_of(
        "permissions",
        catalog,
        |(place, view)| (*place, view.name.to_owned()),
        &query,
    )?;
    Ok(Json(page.map(|(_, view)| view)))
}

/// Create an org; the caller becomes its owner. Guests and accounts may each have
/// created a limited number of orgs (`orgs.max_created_per_guest`, `_per_user`).
#[utoipa::path(post, path = "/v1/orgs", tag = "orgs", request_body = CreateOrgBody,
    responses(
        (status = 201, description = "Created", body = OrgView),
        (status = 409, description = "Slug taken (`slug_taken`), or the caller created as many orgs as they may (`limit_reached`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name or slug", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_org(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestInfo(request): RequestInfo,
    ApiCreate(body, unfit): ApiCreate<CreateOrgBody>,
) -> Result<(StatusCode, Json<OrgView>), ApiError> {
    let org = state
        .tenancy
        .create_org(
            &principal,
            (&body.name, body.slug.as_deref()),
            unfit,
            &request,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

/// The caller's orgs, by id (for an API key: its own org).
#[utoipa::path(get, path = "/v1/orgs", tag = "orgs", params(PageQuery),
    responses((status = 200, description = "A page of orgs", body = Page<OrgView>)))]
pub(crate) async fn list_orgs(
    State(state): State<AppState>,
    Bearer(credential): Bearer,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<OrgView>>, ApiError> {
    let after: Option<OrgId> = query.cursor.as_ref().map(Cursor::decode).transpose()?;
    let orgs = match credential {
        Credential::User(principal) => state
            .tenancy
            .orgs_of(&principal, after, query.limit.fetch())
            .await?
            .into_iter()
            .map(|membership| membership.org)
            .collect(),
        Credential::ApiKey(secret) => {
            let access = state.tenancy.api_key_access(&secret).await?;
            let org = state.tenancy.org(&access).await?;
            after
                .is_none_or(|after| org.id > after)
                .then_some(org)
                .into_iter()
                .collect::<Vec<_>>()
        }
    };
    let page = Page::of(orgs, query.limit, |last| last.id);
    Ok(Json(page.map(OrgView::from)))
}

/// An access token bound to one org (claim `org`): it acts only there.
#[utoipa::path(post, path = "/v1/auth/token", tag = "orgs", request_body = OrgTokenBody,
    responses(
        (status = 200, description = "Issued", body = OrgTokenResponse),
        (status = 404, description = "Not a member of that org", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn org_token(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiJson(body): ApiJson<OrgTokenBody>,
) -> Result<Json<OrgTokenResponse>, ApiError> {
    let org: OrgId = field_id("org_id", &body.org_id)?;
    let access = state
        .tenancy
        .authorize(&Credential::User(principal.clone()), org, None)
        .await?;
    let (access_token, expires_in) = state.tenancy.org_token(&principal, &access)?;
    Ok(Json(OrgTokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        org_id: org.to_string(),
    }))
}

/// One org.
#[utoipa::path(get, path = "/v1/orgs/{org_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 200, description = "The org", body = OrgView),
        (status = 404, description = "No such org, or not a member", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<OrgView>, ApiError> {
    Ok(Json(state.tenancy.org(&ctx.access).await?.into()))
}

/// Rename the org, change its slug, or its `require_mfa` rule (a security setting: that
/// needs a recent sign-in).
#[utoipa::path(patch, path = "/v1/orgs/{org_id}", tag = "orgs", request_body = UpdateOrgBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 200, description = "Updated", body = OrgView),
        (status = 401, description = "`require_mfa` sent (even unchanged) with a sign-in older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Turning `require_mfa` on from a session without a second factor (`mfa_required`), or sending `require_mfa` with an API key (`user_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Slug taken (`slug_taken`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    ApiPatch(body, unfit): ApiPatch<UpdateOrgBody>,
) -> Result<Json<OrgView>, ApiError> {
    if body.require_mfa.is_some() {
        require_recent_sign_in(&state, &ctx.credential)?;
    }
    let change = OrgChange {
        name: body.name,
        slug: body.slug,
        require_mfa: body.require_mfa,
        refused: unfit,
    };
    Ok(Json(
        state
            .tenancy
            .update_org(&ctx.access, change, &request)
            .await?
            .into(),
    ))
}

/// Delete the org: hidden at once, restorable for `orgs.restore_days`, then purged.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key: deleting needs a recent sign-in (`user_required`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
) -> Result<StatusCode, ApiError> {
    require_recent_sign_in(&state, &ctx.credential)?;
    state.tenancy.delete_org(&ctx.access, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restore a deleted org within its restore period (`orgs.restore_days`).
#[utoipa::path(post, path = "/v1/orgs/{org_id}/restore", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 200, description = "Restored", body = OrgView),
        (status = 404, description = "No such org, not a member, or past its restore period (`orgs.restore_days`), purged or not", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not deleted (`not_deleted`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn restore_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
) -> Result<Json<OrgView>, ApiError> {
    Ok(Json(
        state
            .tenancy
            .restore_org(&ctx.access, &request)
            .await?
            .into(),
    ))
}

/// The caller's roles and effective permissions in the org.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/me", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`")),
    responses((status = 200, description = "Roles and permissions", body = MyAccessView)))]
pub(crate) async fn my_access(ctx: OrgCtx) -> Json<MyAccessView> {
    Json(MyAccessView {
        org_id: ctx.access.org_id().to_string(),
        user_id: ctx.access.user().map(|u| u.to_string()),
        roles: ctx.access.roles().to_vec(),
        permissions: ctx.access.permissions().names(),
    })
}

/// The org's members, by user id.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/members", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), PageQuery),
    responses((status = 200, description = "A page of members", body = Page<MemberView>)))]
pub(crate) async fn list_members(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<MemberView>>, ApiError> {
    let after: Option<UserId> = query.cursor.as_ref().map(Cursor::decode).transpose()?;
    let roles = state.tenancy.roles(&ctx.access).await?;
    let members = state
        .tenancy
        .members(&ctx.access, after, query.limit.fetch())
        .await?;
    let page = Page::of(members, query.limit, |last| last.user_id);
    Ok(Json(page.map(|m| MemberView::new(m, &roles))))
}

/// Replace a member's directly granted roles.
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/members/{user_id}", tag = "orgs", request_body = SetRolesBody,
    params(("org_id" = String, Path, description = "`org_…`"), ("user_id" = String, Path, description = "`usr_…`")),
    responses(
        (status = 200, description = "The member", body = MemberView),
        (status = 403, description = "Owners only, or beyond your own permissions", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner (`last_owner`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn set_member_roles(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(user_id): Path<(String, String)>,
    ApiJson(body): ApiJson<SetRolesBody>,
) -> Result<Json<MemberView>, ApiError> {
    let user: UserId = path_id(&user_id.1)?;
    let member = state
        .tenancy
        .set_member_roles(
            &ctx.access,
            user,
            MemberChange { roles: body.roles },
            &request,
        )
        .await?;
    let roles = state.tenancy.roles(&ctx.access).await?;
    Ok(Json(MemberView::new(member, &roles)))
}

/// Remove a member.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/members/{user_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), ("user_id" = String, Path, description = "`usr_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Touches the owner role or an owner without `owners:manage` (`owners_only`), or beyond your own permissions (`exceeds_own_permissions`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner (`last_owner`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn remove_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(user_id): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user: UserId = path_id(&user_id.1)?;
    state
        .tenancy
        .remove_member(&ctx.access, user, false, &request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Leave the org; the API keys you created in it are revoked. An org that requires a
/// second factor lets a session without one leave too, after a recent sign-in.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/members/leave", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 204, description = "Left"),
        (status = 401, description = "The org requires a second factor this session did not use, and its sign-in is not recent (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key, which is no member (`user_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner (`last_owner`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn leave_org(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
) -> Result<StatusCode, ApiError> {
    let user = ctx
        .access
        .user()
        .ok_or_else(|| ApiError::forbidden("user_required", "API keys cannot leave an org."))?;
    // Leaving revokes the member's keys (and may take an owner away): where the org's
    // second factor was waived, a recent sign-in stands in for it, so a leaked access
    // token alone cannot do it.
    if !ctx.access.used_second_factor() && state.tenancy.org(&ctx.access).await?.require_mfa {
        require_recent_sign_in(&state, &ctx.credential)?;
    }
    state
        .tenancy
        .remove_member(&ctx.access, user, true, &request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Invite someone by email; the link in the email carries a single-use token. The
/// inviter's own address must be verified, and invitations per inviter and per org are
/// limited per hour.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/invitations", tag = "orgs", request_body = InviteBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 201, description = "Sent", body = InvitationView),
        (status = 403, description = "The inviter's email address is not verified (`email_unverified`), or the roles are beyond your own permissions (`exceeds_own_permissions`, `owners_only`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The address is a member's (`already_member`), an invitation to it is pending (`invitation_pending`, naming it in `invitation_id`), or the org has its most pending invitations (`limit_reached`); nothing is sent", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many invitations this hour (`rate_limited`, with `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn invite(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    ApiCreate(body, unfit): ApiCreate<InviteBody>,
) -> Result<(StatusCode, Json<InvitationView>), ApiError> {
    let new = NewInvitation {
        email: body.email,
        roles: body.roles,
        any_email: body.any_email,
        refused: unfit,
    };
    let sent = state.tenancy.invite(&ctx.access, new, &request).await?;
    Ok((StatusCode::CREATED, Json(sent.invitation.into())))
}

/// Pending invitations, newest first.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/invitations", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), PageQuery),
    responses((status = 200, description = "A page of invitations", body = Page<InvitationView>)))]
pub(crate) async fn list_invitations(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<InvitationView>>, ApiError> {
    let items: Vec<InvitationView> = state
        .tenancy
        .invitations(&ctx.access)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(page_of(
        "invitations",
        items,
        |i| Reverse((i.created_at, i.id.clone())),
        &query,
    )?))
}

/// Revoke a pending invitation.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/invitations/{invitation_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), ("invitation_id" = String, Path, description = "`inv_…`")),
    responses((status = 204, description = "Revoked")))]
pub(crate) async fn revoke_invitation(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(invitation_id): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: InvitationId = path_id(&invitation_id.1)?;
    state
        .tenancy
        .revoke_invitation(&ctx.access, id, &request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Accept an invitation as the signed-in user; answers the org joined.
#[utoipa::path(post, path = "/v1/invitations/accept", tag = "orgs", request_body = AcceptBody,
    responses(
        (status = 200, description = "Joined", body = OrgView),
        (status = 403, description = "The invitation is for another email (`invitation_email_mismatch`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member (`already_member`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid, used, revoked or expired token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn accept_invitation(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    RequestInfo(request): RequestInfo,
    ApiJson(body): ApiJson<AcceptBody>,
) -> Result<Json<OrgView>, ApiError> {
    let org = state
        .tenancy
        .accept_invitation(&principal, &body.token, &request)
        .await?;
    Ok(Json(org.into()))
}
