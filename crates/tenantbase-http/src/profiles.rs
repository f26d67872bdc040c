//! Profiles (DATA-3): `PATCH /v1/auth/me` (display name, bio, visibility), the avatar at
//! `PUT /v1/auth/me/avatar`, and `GET /v1/users/{user_id}/avatar` for those who may see it.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tenantbase_core::tenancy::{Access, ProfilePatch};
use tenantbase_domain::id::UserId;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::access::guard;
use crate::dto::ProfileView;
use crate::extract::Authenticated;
use crate::middleware::{RouteLimits, limited};
use crate::problem::Problem;
use crate::{ApiError, ApiPatch, AppState};

/// Avatars are small: their route takes bodies up to this (2 MiB and one byte, so that a
/// larger one reaches the handler's own refusal), whatever `http.body_limit_bytes` says.
const AVATAR_BODY_LIMIT: usize = tenantbase_core::tenancy::profiles::AVATAR_MAX_BYTES + 1;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    use Access::SignedIn;
    OpenApiRouter::new()
        .routes(guard(SignedIn, routes!(update_me)))
        .routes(limited(
            RouteLimits::body_max(AVATAR_BODY_LIMIT),
            guard(SignedIn, routes!(put_avatar)),
        ))
        .routes(guard(SignedIn, routes!(get_avatar)))
        .routes(guard(SignedIn, routes!(delete_avatar)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ProfilePatchBody {
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = String)]
    pub display_name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "crate::json::present")]
    #[schema(value_type = Option<String>)]
    pub bio: Option<Option<String>>,
    /// `org` or `private`.
    #[serde(default, deserialize_with = "crate::json::not_null")]
    #[schema(value_type = String)]
    pub profile_visibility: Option<String>,
}

/// Change your profile; absent fields stay as they are.
#[utoipa::path(patch, path = "/v1/auth/me", tag = "auth", request_body = ProfilePatchBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The profile as it is now", body = ProfileView),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn update_me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiPatch(body, unfit): ApiPatch<ProfilePatchBody>,
) -> Result<Json<ProfileView>, ApiError> {
    let patch = ProfilePatch {
        display_name: body.display_name,
        bio: body.bio,
        visibility: body.profile_visibility,
        refused: unfit,
    };
    let profile = state
        .tenancy
        .update_profile(principal.user_id, patch)
        .await?;
    Ok(Json(ProfileView::new(principal.user_id, profile)))
}

/// Set your avatar: the raw image (PNG, JPEG, GIF or WebP, at most 2 MiB and
/// 4096×4096), its type in `Content-Type`. The header is parsed before it is stored.
#[utoipa::path(put, path = "/v1/auth/me/avatar", tag = "auth", security(("bearer" = [])),
    request_body(content = Vec<u8>, content_type = "image/png"),
    responses(
        (status = 200, description = "The profile with its new avatar", body = ProfileView),
        (status = 408, description = "The body did not arrive within the request timeout (`request_timeout`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than 2 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not an image of the declared type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty, not a readable image, or too many pixels", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn put_avatar(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ProfileView>, ApiError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream");
    state
        .tenancy
        .set_avatar(principal.user_id, content_type, body)
        .await?;
    let profile = state.tenancy.profile(principal.user_id).await?;
    Ok(Json(ProfileView::new(principal.user_id, profile)))
}

/// Remove your avatar.
#[utoipa::path(delete, path = "/v1/auth/me/avatar", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "You have no avatar", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn delete_avatar(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.tenancy.delete_avatar(principal.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's avatar, for themself and — unless their profile is private — for members
/// of an org they share. Anyone else gets 404.
#[utoipa::path(get, path = "/v1/users/{user_id}/avatar", tag = "auth", security(("bearer" = [])),
    params(("user_id" = String, Path, description = "`usr_…`")),
    responses(
        (status = 200, description = "The image", content_type = "image/png"),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 404, description = "No avatar, or not yours to see", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Another version than `If-Match` names (`precondition_failed`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_avatar(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    Path(user_id): Path<String>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let owner: UserId = user_id
        .parse()
        .map_err(|_| ApiError::not_found("not_found", "No such resource."))?;
    let (avatar, bytes) = state.tenancy.avatar(principal.user_id, owner).await?;
    let etag = format!("\"{}\"", avatar.sha256);
    let mut headers = HeaderMap::new();
    let bad = |_| ApiError::bad_request("bad_header", "The avatar cannot be described.");
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(bad)?);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=300"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::middleware::STORED_CSP),
    );
    crate::files::download::check_if_match(&request, &etag)?;
    if crate::files::download::names_current(&request, &etag) {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&avatar.content_type).map_err(bad)?,
    );
    Ok((headers, Body::from(bytes)).into_response())
}
