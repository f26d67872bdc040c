//! Handlers of the project routes.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tenantbase_core::tenancy::{
    ExportFormat, FieldProblem, NewProject, OrgAccess, ProjectFilter, ProjectPatch, ReadItem,
    Tenancy, TenancyError,
};
use tenantbase_domain::id::ProjectId;
use tenantbase_domain::unique_json::UniqueJson;

use super::dto::{
    BulkCreateBody, BulkDeleteBody, BulkDeleted, ExportQuery, ImportResult, Page, PageQuery,
    ProjectBody, ProjectPatchBody, ProjectView,
};
use super::path_id;
use crate::extract::{OrgCtx, RequestInfo};
use crate::json::item_as;
use crate::problem::Problem;
use crate::query::{ApiQuery, ListQuery};
use crate::{ApiCreate, ApiError, ApiJson, ApiPatch, AppState, FieldError};

/// A new project from its body, with the problems `ApiCreate` found in it.
fn new_project(body: ProjectBody, refused: Vec<FieldProblem>) -> NewProject {
    NewProject {
        name: body.name,
        description: body.description,
        metadata: body.metadata,
        refused,
    }
}

fn views(access: &OrgAccess, projects: Vec<tenantbase_domain::model::Project>) -> Vec<ProjectView> {
    let org = access.org_id().to_string();
    projects
        .into_iter()
        .map(|p| ProjectView::new(&org, p))
        .collect()
}

/// Create a project.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/projects", tag = "projects", request_body = ProjectBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 201, description = "Created", body = ProjectView),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn create_project(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    ApiCreate(body, unfit): ApiCreate<ProjectBody>,
) -> Result<(StatusCode, Json<ProjectView>), ApiError> {
    let project = state
        .tenancy
        .create_project(&ctx.access, new_project(body, unfit), &request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ProjectView::new(&ctx.access.org_id().to_string(), project)),
    ))
}

/// List projects: filters, sort, full-text search and cursor pagination.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/projects", tag = "projects",
    params(("org_id" = String, Path, description = "`org_…`"), PageQuery, ProjectFilter),
    responses((status = 200, description = "A page of projects", body = Page<ProjectView>)))]
pub(crate) async fn list_projects(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ListQuery(page, filter): ListQuery<ProjectFilter>,
) -> Result<Json<Page<ProjectView>>, ApiError> {
    let projects = state.tenancy.projects(&ctx.access, &page, &filter).await?;
    let org = ctx.access.org_id().to_string();
    Ok(Json(projects.map(|p| ProjectView::new(&org, p))))
}

/// One project.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/projects/{project_id}", tag = "projects",
    params(("org_id" = String, Path, description = "`org_…`"), ("project_id" = String, Path, description = "`prj_…`")),
    responses(
        (status = 200, description = "The project", body = ProjectView),
        (status = 404, description = "No such project in this org", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_project(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path(project_id): Path<(String, String)>,
) -> Result<Json<ProjectView>, ApiError> {
    let id: ProjectId = path_id(&project_id.1)?;
    let project = state.tenancy.project(&ctx.access, id).await?;
    Ok(Json(ProjectView::new(
        &ctx.access.org_id().to_string(),
        project,
    )))
}

/// Change a project; absent fields stay, `description: null` clears it.
#[utoipa::path(patch, path = "/v1/orgs/{org_id}/projects/{project_id}", tag = "projects", request_body = ProjectPatchBody,
    params(("org_id" = String, Path, description = "`org_…`"), ("project_id" = String, Path, description = "`prj_…`")),
    responses((status = 200, description = "Updated", body = ProjectView)))]
pub(crate) async fn update_project(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(project_id): Path<(String, String)>,
    ApiPatch(body, unfit): ApiPatch<ProjectPatchBody>,
) -> Result<Json<ProjectView>, ApiError> {
    let id: ProjectId = path_id(&project_id.1)?;
    let patch = ProjectPatch {
        name: body.name,
        description: body.description,
        metadata: body.metadata.map(|UniqueJson(metadata)| metadata),
        refused: unfit,
    };
    let project = state
        .tenancy
        .update_project(&ctx.access, id, patch, &request)
        .await?;
    Ok(Json(ProjectView::new(
        &ctx.access.org_id().to_string(),
        project,
    )))
}

/// Delete a project (soft: hidden from lists, restorable).
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/projects/{project_id}", tag = "projects",
    params(("org_id" = String, Path, description = "`org_…`"), ("project_id" = String, Path, description = "`prj_…`")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_project(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(project_id): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id: ProjectId = path_id(&project_id.1)?;
    state
        .tenancy
        .delete_project(&ctx.access, id, &request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Restore a deleted project.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/projects/{project_id}/restore", tag = "projects",
    params(("org_id" = String, Path, description = "`org_…`"), ("project_id" = String, Path, description = "`prj_…`")),
    responses(
        (status = 200, description = "Restored", body = ProjectView),
        (status = 409, description = "Not deleted (`not_deleted`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn restore_project(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    Path(project_id): Path<(String, String)>,
) -> Result<Json<ProjectView>, ApiError> {
    let id: ProjectId = path_id(&project_id.1)?;
    let project = state
        .tenancy
        .restore_project(&ctx.access, id, &request)
        .await?;
    Ok(Json(ProjectView::new(
        &ctx.access.org_id().to_string(),
        project,
    )))
}

/// Create up to 100 projects, all or none.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/projects/bulk", tag = "projects", request_body = BulkCreateBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses((status = 201, description = "Created", body = Page<ProjectView>)))]
pub(crate) async fn bulk_create_projects(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    ApiJson(body): ApiJson<BulkCreateBody>,
) -> Result<(StatusCode, Json<Page<ProjectView>>), ApiError> {
    let items = body
        .items
        .into_iter()
        .enumerate()
        .map(|(i, UniqueJson(item))| -> ReadItem {
            item_as::<ProjectBody>(&format!("items[{i}]"), item)
                .map(|body| new_project(body, Vec::new()))
                .map_err(|e| vec![FieldProblem::new(e.field, e.message)])
        })
        .collect();
    let created = state
        .tenancy
        .bulk_create_projects(&ctx.access, items, &request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Page::whole(views(&ctx.access, created))),
    ))
}

/// Delete up to 100 projects, all or none.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/projects/bulk-delete", tag = "projects", request_body = BulkDeleteBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 200, description = "Deleted", body = BulkDeleted),
        (status = 409, description = "Another request deleted one of them meanwhile; nothing was deleted (`concurrent_change`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn bulk_delete_projects(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    ApiJson(body): ApiJson<BulkDeleteBody>,
) -> Result<Json<BulkDeleted>, ApiError> {
    let deleted = state
        .tenancy
        .bulk_delete_projects(&ctx.access, &body.ids, &request)
        .await?;
    Ok(Json(BulkDeleted { deleted }))
}

fn export_format(format: Option<&str>) -> Result<ExportFormat, ApiError> {
    match format {
        None | Some("jsonl") => Ok(ExportFormat::Jsonl),
        Some("csv") => Ok(ExportFormat::Csv),
        Some(_) => Err(ApiError::validation(vec![FieldError {
            field: "format".to_owned(),
            message: "must be jsonl or csv".to_owned(),
        }])),
    }
}

const EXPORT_PAGE: u32 = 500;

/// Export every live project, oldest first, streamed page by page.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/projects/export", tag = "projects",
    params(("org_id" = String, Path, description = "`org_…`"), ExportQuery),
    responses((status = 200, description = "JSON lines (`application/x-ndjson`) or CSV (`text/csv`), as `format` asks",
        content((String = "application/x-ndjson"), (String = "text/csv")))))]
pub(crate) async fn export_projects(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ApiQuery(query): ApiQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let format = export_format(query.format.as_deref())?;
    let tenancy = state.tenancy.clone();
    let access = ctx.access;
    // Each page is read when the client is ready for it: memory stays one page deep.
    let pages = futures::stream::unfold(Some(None), move |cursor| {
        let (tenancy, access) = (tenancy.clone(), access.clone());
        async move {
            let cursor = cursor?;
            Some(
                match export_chunk(&tenancy, &access, format, cursor).await {
                    Ok((chunk, next)) => (Ok(chunk), next.map(Some)),
                    Err(error) => {
                        // The status line is gone: the client sees the stream cut short.
                        tracing::warn!(%error, "project export stopped");
                        (Err(std::io::Error::other(error.to_string())), None)
                    }
                },
            )
        }
    });
    let preamble =
        futures::stream::once(
            async move { Ok::<_, std::io::Error>(Bytes::from(format.preamble())) },
        );
    let (content_type, extension) = match format {
        ExportFormat::Jsonl => ("application/x-ndjson", "jsonl"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    let disposition = format!("attachment; filename=\"projects.{extension}\"");
    headers.insert(
        header::CONTENT_DISPOSITION,
        header::HeaderValue::from_str(&disposition).map_err(|e| ApiError::internal(&e))?,
    );
    use futures::StreamExt;
    Ok((headers, Body::from_stream(preamble.chain(pages))).into_response())
}

/// One page of the export as bytes, and where the next starts (`None`: done).
async fn export_chunk(
    tenancy: &Tenancy,
    access: &OrgAccess,
    format: ExportFormat,
    after: Option<(chrono::DateTime<chrono::Utc>, ProjectId)>,
) -> Result<(Bytes, Option<(chrono::DateTime<chrono::Utc>, ProjectId)>), TenancyError> {
    let page = tenancy.export_page(access, after, EXPORT_PAGE).await?;
    let next = page
        .last()
        .filter(|_| page.len() == EXPORT_PAGE as usize)
        .map(|p| (p.created_at, p.id));
    let bytes: Vec<u8> = page.iter().flat_map(|p| format.line(p)).collect();
    Ok((Bytes::from(bytes), next))
}

/// Import projects from JSON lines or CSV (as exported): all rows are validated first,
/// problems are reported per row (`rows[0]` is the first), and then all are created or none.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/projects/import", tag = "projects",
    params(("org_id" = String, Path, description = "`org_…`")),
    request_body(content((String = "application/x-ndjson"), (String = "text/csv")),
        description = "JSON lines or CSV, as exported"),
    responses(
        (status = 201, description = "Imported", body = ImportResult),
        (status = 408, description = "The body did not arrive within the request timeout (`request_timeout`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than the server accepts", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON lines nor CSV", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Row-level problems; nothing was imported", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn import_projects(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(request): RequestInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Json<ImportResult>), ApiError> {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let format = match essence.as_str() {
        "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => {
            ExportFormat::Jsonl
        }
        "text/csv" => ExportFormat::Csv,
        _ => {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send JSON lines (`application/x-ndjson`) or CSV (`text/csv`).",
            ));
        }
    };
    let rows = format.parse_import(&body)?;
    let created = state
        .tenancy
        .import_projects(&ctx.access, rows, &request)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(ImportResult {
            imported: created.len(),
            ids: created.iter().map(|p| p.id.to_string()).collect(),
        }),
    ))
}
