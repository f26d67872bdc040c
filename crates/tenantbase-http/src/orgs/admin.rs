//! Handlers of the org administration routes: roles, teams, API keys and the audit log.

use std::cmp::Reverse;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tenantbase_core::audit::verify::Verdict;
use tenantbase_core::tenancy::{AuditListing, NewApiKey, RoleChange, TeamChange};
use tenantbase_domain::id::{ApiKeyId, RoleId, TeamId, UserId};

use super::dto::{
    ApiKeyBody, ApiKeyView, AuditVerifyView, CreatedApiKeyView, EventView, Page, PageQuery,
    RoleBody, RolePatchBody, RoleView, TeamBody, TeamMemberBody, TeamPatchBody, TeamView,
};
use super::{field_id, path_id};
use crate::auth::step_up::require_recent_sign_in;
use crate::extract::{OrgCtx, RequestInfo};
use crate::paging::page_of;
use crate::problem::Problem;
use crate::query::{ApiQuery, ListQuery};
use crate::{ApiCreate, ApiError, ApiJson, ApiPatch, AppState};

/// The org's roles: the built-in five, then custom ones by creation.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/roles", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), PageQuery),
    responses((status = 200, description = "A page of roles", body = Page<RoleView>)))]
pub(crate) async fn list_roles(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<RoleView>>, ApiError> {
    let roles: Vec<RoleView> = state
        .tenancy
        .roles(&ctx.access)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(page_of(
        "roles",
        roles,
        |r| (r.created_at, r.id.clone()),
        &query,
    )?))
}

/// One role of the org.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/roles/{role_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), ("role_id" = String, Path, description = "`rol_…`")),
    responses(
        (status = 200, description = "The role", body = RoleView),
        (status = 404, description = "No such role in this org", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_role(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path(role_id): Path<(String, String)>,
) -> Result<Json<RoleView>, ApiError> {
    let id: RoleId = path_id(&role_id.1)?;
    let role = state
        .tenancy
        .roles(&ctx.access)
        .await?
        .into_iter()
        .find(|r| r.id == id);
    role.map(|r| Json(r.into()))
        .ok_or_else(|| ApiError::not_found("not_found", "No such resource."))
}

/// Create a custom role from catalog permissions you hold yourself.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/roles", tag = "orgs", request_body = RoleBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 201, description = "Created", body = RoleView),
        (status = 409, description = "Name taken (`role_name_taken`) or the org has its most custom roles (`limit_reached`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown permission, or the name of a built-in role in any case", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_role(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    ApiCreate(body, unfit): ApiCreate<RoleBody>,
) -> Result<(StatusCode, Json<RoleView>), ApiError> {
    let change = RoleChange {
        name: Some(body.name),
        description: body.description,
        permissions: Some(body.permissions),
        refused: unfit,
    };
    let role = state
        .tenancy
        .create_role(&ctx.access, change, &request)
        .await?;
    Ok((StatusCode::CREATED, Json(role.into())))
}

/// Change a custom role (built-in roles are read-only: 409 `builtin_role`).
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/roles/{role_id}", tag = "orgs", request_body = RolePatchBody,
    params(("org_id" = String, Path, description = "`org_…`"), ("role_id" = String, Path, description = "`rol_…`")),
    responses(
        (status = 200, description = "Updated", body = RoleView),
        (status = 409, description = "A built-in role (`builtin_role`) or the name is taken (`role_name_taken`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update_role(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(role_id): Path<(String, String)>,
    ApiPatch(body, unfit): ApiPatch<RolePatchBody>,
) -> Result<Json<RoleView>, ApiError> {
    let id: RoleId = path_id(&role_id.1)?;
    let change = RoleChange {
        name: body.name,
        description: body.description,
        permissions: body.permissions,
        refused: unfit,
    };
    Ok(Json(
        state
            .tenancy
            .update_role(&ctx.access, id, change, &request)
            .await?
            .into(),
    ))
}

/// Delete a custom role that nobody holds (409 `role_in_use` otherwise).
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/roles/{role_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), ("role_id" = String, Path, description = "`rol_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 409, description = "A built-in role (`builtin_role`) or one still granted (`role_in_use`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete_role(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(role_id): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: RoleId = path_id(&role_id.1)?;
    state.tenancy.delete_role(&ctx.access, id, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The org's teams, by name.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/teams", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), PageQuery),
    responses((status = 200, description = "A page of teams", body = Page<TeamView>)))]
pub(crate) async fn list_teams(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<TeamView>>, ApiError> {
    let teams: Vec<TeamView> = state
        .tenancy
        .teams(&ctx.access)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(page_of(
        "teams",
        teams,
        |t| (t.name.clone(), t.id.clone()),
        &query,
    )?))
}

/// One team of the org, with its roles and members.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/teams/{team_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), ("team_id" = String, Path, description = "`team_…`")),
    responses(
        (status = 200, description = "The team", body = TeamView),
        (status = 404, description = "No such team in this org", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_team(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path(team_id): Path<(String, String)>,
) -> Result<Json<TeamView>, ApiError> {
    let id: TeamId = path_id(&team_id.1)?;
    let team = state
        .tenancy
        .teams(&ctx.access)
        .await?
        .into_iter()
        .find(|t| t.id == id);
    team.map(|t| Json(t.into()))
        .ok_or_else(|| ApiError::not_found("not_found", "No such resource."))
}

/// Create a team; its roles apply to all its members.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/teams", tag = "orgs", request_body = TeamBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 201, description = "Created", body = TeamView),
        (status = 409, description = "Name taken, in any case or width (`team_name_taken`) or the org has its most teams (`limit_reached`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_team(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    ApiCreate(body, unfit): ApiCreate<TeamBody>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    let change = TeamChange {
        name: Some(body.name),
        roles: Some(body.roles),
        refused: unfit,
    };
    let team = state
        .tenancy
        .create_team(&ctx.access, change, &request)
        .await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// Rename a team or replace its roles.
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/teams/{team_id}", tag = "orgs", request_body = TeamPatchBody,
    params(("org_id" = String, Path, description = "`org_…`"), ("team_id" = String, Path, description = "`team_…`")),
    responses(
        (status = 200, description = "Updated", body = TeamView),
        (status = 403, description = "Touches the owner role or an owner without `owners:manage` (`owners_only`), or beyond your own permissions (`exceeds_own_permissions`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken, in any case or width (`team_name_taken`), or it would leave the org without an owner, direct or through a team (`last_owner`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update_team(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(team_id): Path<(String, String)>,
    ApiPatch(body, unfit): ApiPatch<TeamPatchBody>,
) -> Result<Json<TeamView>, ApiError> {
    let id: TeamId = path_id(&team_id.1)?;
    let change = TeamChange {
        name: body.name,
        roles: body.roles,
        refused: unfit,
    };
    Ok(Json(
        state
            .tenancy
            .update_team(&ctx.access, id, change, &request)
            .await?
            .into(),
    ))
}

/// Delete a team (its members keep their own roles).
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/teams/{team_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), ("team_id" = String, Path, description = "`team_…`")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Touches the owner role or an owner without `owners:manage` (`owners_only`), or beyond your own permissions (`exceeds_own_permissions`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It would leave the org without an owner, direct or through a team (`last_owner`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete_team(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(team_id): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: TeamId = path_id(&team_id.1)?;
    state.tenancy.delete_team(&ctx.access, id, &request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add a member of the org to a team.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/teams/{team_id}/members", tag = "orgs", request_body = TeamMemberBody,
    params(("org_id" = String, Path, description = "`org_…`"), ("team_id" = String, Path, description = "`team_…`")),
    responses(
        (status = 201, description = "Added; the team", body = TeamView),
        (status = 409, description = "Already in the team (`already_in_team`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn add_team_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(team_id): Path<(String, String)>,
    ApiJson(body): ApiJson<TeamMemberBody>,
) -> Result<(StatusCode, Json<TeamView>), ApiError> {
    let id: TeamId = path_id(&team_id.1)?;
    let user: UserId = field_id("user_id", &body.user_id)?;
    let team = state
        .tenancy
        .set_team_membership(&ctx.access, id, user, true, &request)
        .await?;
    Ok((StatusCode::CREATED, Json(team.into())))
}

/// Take a member out of a team.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/teams/{team_id}/members/{user_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), ("team_id" = String, Path, description = "`team_…`"),
        ("user_id" = String, Path, description = "`usr_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Touches the owner role or an owner without `owners:manage` (`owners_only`), or beyond your own permissions (`exceeds_own_permissions`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "It would leave the org without an owner, direct or through a team (`last_owner`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn remove_team_member(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(ids): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: TeamId = path_id(&ids.1)?;
    let user: UserId = path_id(&ids.2)?;
    state
        .tenancy
        .set_team_membership(&ctx.access, id, user, false, &request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an API key; the secret is in this answer only.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/api-keys", tag = "orgs", request_body = ApiKeyBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 201, description = "Created", body = CreatedApiKeyView),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Beyond your own permissions (`exceeds_own_permissions`), your email address is not verified (`email_unverified`), or an API key (`user_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The org has its most active keys (`limit_reached`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_api_key(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    ApiCreate(body, unfit): ApiCreate<ApiKeyBody>,
) -> Result<(StatusCode, Json<CreatedApiKeyView>), ApiError> {
    require_recent_sign_in(&state, &ctx.credential)?;
    let new = NewApiKey {
        name: body.name,
        permissions: body.permissions,
        expires_at: body.expires_at,
        refused: unfit,
    };
    let created = state
        .tenancy
        .create_api_key(&ctx.access, new, &request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedApiKeyView {
            key: created.key.into(),
            secret: created.secret,
        }),
    ))
}

/// The org's API keys (never their secrets), newest first.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/api-keys", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), PageQuery),
    responses((status = 200, description = "A page of keys", body = Page<ApiKeyView>)))]
pub(crate) async fn list_api_keys(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<ApiKeyView>>, ApiError> {
    let keys: Vec<ApiKeyView> = state
        .tenancy
        .api_keys(&ctx.access)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(page_of(
        "api_keys",
        keys,
        |k| Reverse((k.created_at, k.id.clone())),
        &query,
    )?))
}

/// Revoke an API key; it stops working at once on this replica, within 5 s elsewhere.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/api-keys/{key_id}", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), ("key_id" = String, Path, description = "`key_…`")),
    responses((status = 204, description = "Revoked")))]
pub(crate) async fn revoke_api_key(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(key_id): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: ApiKeyId = path_id(&key_id.1)?;
    state
        .tenancy
        .revoke_api_key(&ctx.access, id, &request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The org's audit log, newest first.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/audit", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`"), AuditListing, PageQuery),
    responses(
        (status = 200, description = "A page of events", body = Page<EventView>),
        (status = 422, description = "`until` is not later than `since`, or `actor` is not a user's or an API key's id (`validation_failed`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ListQuery(page, listing): ListQuery<AuditListing>,
) -> Result<Json<Page<EventView>>, ApiError> {
    let events = state
        .tenancy
        .audit_events(&ctx.access, &page, listing)
        .await?;
    Ok(Json(events.map(EventView::from)))
}

/// Verify the org's audit hash chain.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/audit/verify", tag = "orgs",
    params(("org_id" = String, Path, description = "`org_…`")),
    responses((status = 200, description = "The verdict", body = AuditVerifyView)))]
pub(crate) async fn verify_audit(
    State(state): State<AppState>,
    ctx: OrgCtx,
) -> Result<Json<AuditVerifyView>, ApiError> {
    let verdict = state.tenancy.verify_audit(&ctx.access).await?;
    let detail = verdict.to_string();
    Ok(Json(match verdict {
        Verdict::Intact { events, .. } => AuditVerifyView {
            intact: true,
            events: Some(events),
            broken_at: None,
            detail,
        },
        Verdict::Broken { event_id, .. } => AuditVerifyView {
            intact: false,
            events: None,
            broken_at: event_id,
            detail,
        },
    }))
}
