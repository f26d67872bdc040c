//! `/v1/orgs/…` and friends: orgs, members, invitations, roles, teams, API keys, the
//! audit log and projects. Each route is registered with its access rule (`guard`).

mod admin;
mod dto;
mod handlers;
mod projects;

use std::str::FromStr;

use tenantbase_core::tenancy::Access;
use tenantbase_domain::Permission::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::guard;
use crate::{ApiError, AppState, FieldError};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    use Access::{Leaving, Member, Permission as Needs, Public, SignedIn};
    OpenApiRouter::new()
        .routes(guard(Public, routes!(handlers::permissions)))
        .routes(guard(SignedIn, routes!(handlers::create_org)))
        .routes(guard(SignedIn, routes!(handlers::list_orgs)))
        .routes(guard(SignedIn, routes!(handlers::org_token)))
        .routes(guard(SignedIn, routes!(handlers::accept_invitation)))
        .routes(guard(Needs(OrgRead), routes!(handlers::get_org)))
        .routes(guard(Needs(OrgManage), routes!(handlers::update_org)))
        .routes(guard(Needs(OrgDelete), routes!(handlers::delete_org)))
        .routes(guard(Needs(OrgDelete), routes!(handlers::restore_org)))
        .routes(guard(Member, routes!(handlers::my_access)))
        .routes(guard(Needs(MembersRead), routes!(handlers::list_members)))
        .routes(guard(
            Needs(MembersManage),
            routes!(handlers::set_member_roles),
        ))
        .routes(guard(
            Needs(MembersManage),
            routes!(handlers::remove_member),
        ))
        .routes(guard(Leaving, routes!(handlers::leave_org)))
        .routes(guard(Needs(MembersManage), routes!(handlers::invite)))
        .routes(guard(
            Needs(MembersRead),
            routes!(handlers::list_invitations),
        ))
        .routes(guard(
            Needs(MembersManage),
            routes!(handlers::revoke_invitation),
        ))
        .routes(guard(Needs(MembersRead), routes!(admin::list_roles)))
        .routes(guard(Needs(MembersRead), routes!(admin::get_role)))
        .routes(guard(Needs(RolesManage), routes!(admin::create_role)))
        .routes(guard(Needs(RolesManage), routes!(admin::update_role)))
        .routes(guard(Needs(RolesManage), routes!(admin::delete_role)))
        .routes(guard(Needs(MembersRead), routes!(admin::list_teams)))
        .routes(guard(Needs(MembersRead), routes!(admin::get_team)))
        .routes(guard(Needs(MembersManage), routes!(admin::create_team)))
        .routes(guard(Needs(MembersManage), routes!(admin::update_team)))
        .routes(guard(Needs(MembersManage), routes!(admin::delete_team)))
        .routes(guard(Needs(MembersManage), routes!(admin::add_team_member)))
        .routes(guard(
            Needs(MembersManage),
            routes!(admin::remove_team_member),
        ))
        .routes(guard(Needs(ApiKeysManage), routes!(admin::create_api_key)))
        .routes(guard(Needs(ApiKeysManage), routes!(admin::list_api_keys)))
        .routes(guard(Needs(ApiKeysManage), routes!(admin::revoke_api_key)))
        .routes(guard(Needs(AuditRead), routes!(admin::list_audit)))
        .routes(guard(Needs(AuditRead), routes!(admin::verify_audit)))
        .routes(guard(
            Needs(ProjectsWrite),
            routes!(projects::create_project),
        ))
        .routes(guard(Needs(ProjectsRead), routes!(projects::list_projects)))
        .routes(guard(Needs(ProjectsRead), routes!(projects::get_project)))
        .routes(guard(
            Needs(ProjectsWrite),
            routes!(projects::update_project),
        ))
        .routes(guard(
            Needs(ProjectsDelete),
            routes!(projects::delete_project),
        ))
        .routes(guard(
            Needs(ProjectsWrite),
            routes!(projects::restore_project),
        ))
        .routes(guard(
            Needs(ProjectsWrite),
            routes!(projects::bulk_create_projects),
        ))
        .routes(guard(
            Needs(ProjectsDelete),
            routes!(projects::bulk_delete_projects),
        ))
        .routes(guard(
            Needs(ProjectsRead),
            routes!(projects::export_projects),
        ))
        .routes(guard(
            Needs(ProjectsWrite),
            routes!(projects::import_projects),
        ))
}

/// An id from the path: one that does not parse names nothing, so 404.
fn path_id<T: FromStr>(text: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found("not_found", "No such resource."))
}

/// An id from a body or query: one that does not parse is a field error.
fn field_id<T: FromStr>(field: &str, text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| {
        ApiError::validation(vec![FieldError {
            field: field.to_owned(),
            message: "is not a valid id of this kind".to_owned(),
        }])
    })
}
