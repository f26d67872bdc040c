//! Handlers of `/v1/orgs/{org_id}/files…`.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use tenantbase_core::tenancy::OrgAccess;
use tenantbase_core::tenancy::files::{FileFilter, NewFile, UploadRequest};
use tenantbase_domain::id::FileId;
use tenantbase_domain::page::{Page, PageQuery};

use super::download::{early_answer, read_range, respond};
use super::dto::{
    FileView, PresignBody, PresignDownloadBody, PresignedDownloadView, PresignedUploadView,
    UploadParams,
};
use super::multipart::file_part;
use crate::extract::{OrgCtx, RequestInfo};

use crate::problem::Problem;
use crate::query::{ApiQuery, ListQuery};
use crate::{ApiCreate, ApiError, ApiJson, AppState, FieldError};

fn file_id(text: &str) -> Result<FileId, ApiError> {
    text.parse()
        .map_err(|_| ApiError::not_found("not_found", "No such resource."))
}

fn missing(field: &str, message: &str) -> ApiError {
    ApiError::validation(vec![FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }])
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The type an upload declares, to be checked as any other: `application/octet-stream`
/// when none is sent, but one that is sent and unreadable is refused, not taken for none.
fn declared_type(value: Option<&HeaderValue>) -> String {
    value.map_or_else(
        || "application/octet-stream".to_owned(),
        |value| String::from_utf8_lossy(value.as_bytes()).into_owned(),
    )
}

/// Upload a file: `multipart/form-data` (the first part with a file name), or the raw
/// body with its `Content-Type` and `?name=`. Streamed to the object store, hashed on the
/// way; nothing is recorded unless every byte was stored.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/files", tag = "files",
    params(("org_id" = String, Path, description = "`org_…`"), UploadParams),
    request_body(content = Vec<u8>, description = "The bytes, raw or as multipart/form-data",
        content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored", body = FileView),
        (status = 400, description = "A malformed multipart body (`bad_multipart`), or the body ended before all of its bytes arrived (`upload_interrupted`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Larger than the per-file cap (`quota_exceeded`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The bytes are not of the declared type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name or type", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The object store does not answer", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The org's quota, or its creator's across their orgs, is used up (`quota_exceeded`; `limit` is `org_quota_bytes` or `creator_quota_bytes`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn upload_file(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(meta): RequestInfo,
    ApiQuery(params): ApiQuery<UploadParams>,
    request: Request,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let headers = request.headers().clone();
    let content_type = header_text(&headers, header::CONTENT_TYPE);
    let tenancy = &state.tenancy;
    let file = match content_type.as_deref() {
        Some(form) if form.starts_with("multipart/form-data") => {
            let part = file_part(request.into_body(), form).await?;
            let new = NewFile {
                name: params.name.clone().unwrap_or(part.name),
                content_type: declared_type(part.content_type.as_ref()),
                declared_size: None,
            };
            tenancy
                .upload_file(&ctx.access, new, part.data, &meta)
                .await?
        }
        _ => {
            let name = params
                .name
                .clone()
                .ok_or_else(|| missing("name", "is required for a raw upload (?name=)"))?;
            let new = NewFile {
                name,
                content_type: declared_type(headers.get(header::CONTENT_TYPE)),
                declared_size: header_text(&headers, header::CONTENT_LENGTH)
                    .and_then(|v| v.parse().ok()),
            };
            let body = request.into_body().into_data_stream();
            tenancy.upload_file(&ctx.access, new, body, &meta).await?
        }
    };
    Ok((StatusCode::CREATED, Json(FileView::from(file))))
}

/// List files, oldest first, by name prefix and content type.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/files", tag = "files",
    params(("org_id" = String, Path, description = "`org_…`"), PageQuery, FileFilter),
    responses((status = 200, description = "A page of files", body = Page<FileView>)))]
pub(crate) async fn list_files(
    State(state): State<AppState>,
    ctx: OrgCtx,
    ListQuery(page, filter): ListQuery<FileFilter>,
) -> Result<Json<Page<FileView>>, ApiError> {
    let files = state.tenancy.files(&ctx.access, &page, &filter).await?;
    Ok(Json(files.map(FileView::from)))
}

/// A file's metadata.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/files/{file_id}", tag = "files",
    params(("org_id" = String, Path, description = "`org_…`"), ("file_id" = String, Path, description = "`fil_…`")),
    responses((status = 200, description = "The file", body = FileView)))]
pub(crate) async fn get_file(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path(ids): Path<(String, String)>,
) -> Result<Json<FileView>, ApiError> {
    let file = state.tenancy.file(&ctx.access, file_id(&ids.1)?).await?;
    Ok(Json(FileView::from(file)))
}

/// Download a file: `ETag` with `If-Match` (412) and `If-None-Match` (304), one `Range`
/// (206, or 416; `If-Range`), and an `attachment` disposition with the file's name.
#[utoipa::path(get, path = "/v1/orgs/{org_id}/files/{file_id}/content", tag = "files",
    params(("org_id" = String, Path, description = "`org_…`"), ("file_id" = String, Path, description = "`fil_…`")),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for", content_type = "application/octet-stream"),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 412, description = "Another version than `If-Match` names (`precondition_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range lies outside the file", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The object store does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn download_file(
    State(state): State<AppState>,
    ctx: OrgCtx,
    Path(ids): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve_file(&state, &ctx.access, file_id(&ids.1)?, &headers).await
}

/// The download answer for `id` and the request's conditional and range headers.
pub(super) async fn serve_file(
    state: &AppState,
    access: &OrgAccess,
    id: FileId,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let file = state.tenancy.file(access, id).await?;
    if let Some(answer) = early_answer(headers, &file)? {
        return Ok(answer);
    }
    let range = read_range(headers, &file);
    let partial = range.is_some();
    let download = state.tenancy.download(access, file, range).await?;
    respond(download, partial)
}

/// Delete a file: its row, then its object. Audited as `file.deleted`.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/files/{file_id}", tag = "files",
    params(("org_id" = String, Path, description = "`org_…`"), ("file_id" = String, Path, description = "`fil_…`")),
    responses((status = 204, description = "Deleted")))]
pub(crate) async fn delete_file(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(meta): RequestInfo,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .tenancy
        .delete_file(&ctx.access, file_id(&ids.1)?, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Presign an upload: the client PUTs the bytes to `url`, then POSTs `complete_url`. The
/// announced size counts against the quota until then.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/files/presign", tag = "files", request_body = PresignBody,
    params(("org_id" = String, Path, description = "`org_…`")),
    responses(
        (status = 201, description = "An upload URL", body = PresignedUploadView),
        (status = 413, description = "The announced size is over the per-file cap (`quota_exceeded`, `limit` is `max_file_bytes`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The org's quota, or its creator's across their orgs, cannot take the announced size (`quota_exceeded`; `limit` is `org_quota_bytes` or `creator_quota_bytes`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn presign_upload(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(meta): RequestInfo,
    ApiCreate(body, unfit): ApiCreate<PresignBody>,
) -> Result<(StatusCode, Json<PresignedUploadView>), ApiError> {
    let asked = UploadRequest {
        name: body.name,
        content_type: body.content_type,
        size: body.size,
        sha256: body.sha256,
        expires_in: body.expires_in,
        refused: unfit,
    };
    let presigned = state
        .tenancy
        .presign_upload(&ctx.access, asked, &meta)
        .await?;
    let upload = &presigned.upload;
    let org = ctx.access.org_id();
    Ok((
        StatusCode::CREATED,
        Json(PresignedUploadView {
            upload_id: upload.id.to_string(),
            method: presigned.method,
            url: presigned.url,
            headers: put_headers(&state, &upload.content_type),
            expires_at: upload.expires_at,
            complete_url: format!("/v1/orgs/{org}/files/uploads/{}/complete", upload.id),
        }),
    ))
}

/// The headers a client sends with its presigned PUT: the type, and what the store
/// itself requires (Azure's blob type).
fn put_headers(state: &AppState, content_type: &str) -> serde_json::Value {
    let mut headers = serde_json::Map::new();
    headers.insert("content-type".to_owned(), content_type.into());
    for (name, value) in state.blob.presigned_put_headers() {
        headers.insert((*name).to_owned(), (*value).into());
    }
    serde_json::Value::Object(headers)
}

/// Complete a presigned upload: the stored bytes are checked (size, promised hash, type)
/// and become the file. Completing a completed upload returns its file.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/files/uploads/{upload_id}/complete", tag = "files",
    params(("org_id" = String, Path, description = "`org_…`"), ("upload_id" = String, Path, description = "`fil_…`")),
    responses(
        (status = 201, description = "The file", body = FileView),
        (status = 409, description = "Nothing was uploaded yet (`upload_incomplete`), or another request is completing this upload (`upload_completing`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The bytes are not of the announced type, or (S3, Azure) the PUT declared another `Content-Type`, which the store would serve (`content_type_mismatch`); the upload stays open for another PUT", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Size or hash differ from what was announced", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn complete_upload(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(meta): RequestInfo,
    Path(ids): Path<(String, String)>,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let id = file_id(&ids.1)?;
    // Completion runs to its end even if the client goes: stopping half-way would leave
    // the upload claimed until its lease runs out.
    let (tenancy, access) = (state.tenancy.clone(), ctx.access.clone());
    let file = tokio::spawn(async move { tenancy.complete_upload(&access, id, &meta).await })
        .await
        .map_err(|error| ApiError::internal(&error))??;
    Ok((StatusCode::CREATED, Json(FileView::from(file))))
}

/// Cancel an open presigned upload: its announced size stops counting against the quota,
/// it no longer counts among the org's open uploads, and its staged bytes are removed. A
/// store's own URL (S3, Azure) still takes a PUT until it expires, but nothing PUT there
/// becomes a file. Audited as `file.upload_cancelled`.
#[utoipa::path(delete, path = "/v1/orgs/{org_id}/files/uploads/{upload_id}", tag = "files",
    params(("org_id" = String, Path, description = "`org_…`"), ("upload_id" = String, Path, description = "`fil_…`")),
    responses(
        (status = 204, description = "Cancelled"),
        (status = 404, description = "No open upload by this id: unknown, expired or completed", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request is completing the upload (`upload_completing`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn cancel_upload(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(meta): RequestInfo,
    Path(ids): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state
        .tenancy
        .cancel_upload(&ctx.access, file_id(&ids.1)?, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A URL that downloads the file without credentials until it expires.
#[utoipa::path(post, path = "/v1/orgs/{org_id}/files/{file_id}/presign-download", tag = "files",
    request_body = PresignDownloadBody,
    params(("org_id" = String, Path, description = "`org_…`"), ("file_id" = String, Path, description = "`fil_…`")),
    responses((status = 200, description = "A download URL", body = PresignedDownloadView)))]
pub(crate) async fn presign_download(
    State(state): State<AppState>,
    ctx: OrgCtx,
    RequestInfo(meta): RequestInfo,
    Path(ids): Path<(String, String)>,
    ApiJson(body): ApiJson<PresignDownloadBody>,
) -> Result<Json<PresignedDownloadView>, ApiError> {
    let url = state
        .tenancy
        .presign_download(&ctx.access, file_id(&ids.1)?, body.expires_in, &meta)
        .await?;
    Ok(Json(PresignedDownloadView {
        url: url.url,
        expires_at: url.expires_at,
    }))
}
