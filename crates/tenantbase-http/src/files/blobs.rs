//! `/v1/blobs/{token}`: the presigned URLs of stores that cannot sign their own (the
//! local folder). The token is the whole credential: signed, expiring, for one method on
//! one file. Bad or expired tokens get 403, the other method 405.

use axum::Json;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tenantbase_core::tenancy::files::{BlobGrant, GrantMethod, GrantRefusal};

use super::dto::FileView;
use super::handlers::serve_file;
use crate::extract::RequestInfo;
use crate::problem::Problem;
use crate::{ApiError, AppState};

fn grant(state: &AppState, token: &str, method: GrantMethod) -> Result<BlobGrant, ApiError> {
    state
        .tenancy
        .verify_grant(token, method)
        .map_err(|refusal| match refusal {
            GrantRefusal::Invalid => ApiError::forbidden(
                "invalid_signature",
                "This URL is not valid: it was changed or never issued.",
            ),
            GrantRefusal::Expired => ApiError::forbidden("url_expired", "This URL has expired."),
            GrantRefusal::WrongMethod(allowed) => ApiError::method_not_allowed(
                allowed.as_str(),
                "method_not_allowed",
                format!("This URL is for {} only.", allowed.as_str()),
            ),
        })
}

/// Download through a presigned URL (ranges and ETags as on the content route).
#[utoipa::path(get, path = "/v1/blobs/{token}", tag = "files",
    params(("token" = String, Path, description = "From a presigned URL")),
    responses(
        (status = 200, description = "The bytes", content_type = "application/octet-stream"),
        (status = 206, description = "The range asked for", content_type = "application/octet-stream"),
        (status = 304, description = "Unchanged since the ETag sent"),
        (status = 412, description = "Another version than `If-Match` names (`precondition_failed`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Tampered or expired", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The file is gone, or whoever presigned the URL may no longer read it", body = Problem, content_type = "application/problem+json"),
        (status = 405, description = "The URL is for PUT", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "The range lies outside the file", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The object store does not answer", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn get_blob(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let grant = grant(&state, &token, GrantMethod::Get)?;
    let (access, file) = state.tenancy.granted_read(&grant).await?;
    serve_file(&state, &access, file, &headers).await
}

/// Upload through a presigned URL of the local store: the body becomes the file at once,
/// with the type announced when the upload was presigned; the PUT's own `Content-Type` is
/// not read (tenantbase serves these bytes itself, with the announced type).
#[utoipa::path(put, path = "/v1/blobs/{token}", tag = "files",
    params(("token" = String, Path, description = "From a presigned URL")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses(
        (status = 201, description = "Stored", body = FileView),
        (status = 400, description = "The body ended before all of its bytes arrived (`upload_interrupted`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Tampered or expired", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The upload is gone, or whoever presigned the URL may no longer write files", body = Problem, content_type = "application/problem+json"),
        (status = 405, description = "The URL is for GET", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another PUT to this URL is storing the upload (`upload_completing`)", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "More bytes than the upload announced (`quota_exceeded`)", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The bytes are not of the type the URL was presigned for (`content_type_mismatch`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Fewer bytes than announced, or another SHA-256", body = Problem, content_type = "application/problem+json"),
        (status = 507, description = "The org's quota, or its creator's across their orgs, is used up (`quota_exceeded`; `limit` is `org_quota_bytes` or `creator_quota_bytes`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn put_blob(
    State(state): State<AppState>,
    Path(token): Path<String>,
    RequestInfo(meta): RequestInfo,
    request: Request,
) -> Result<(StatusCode, Json<FileView>), ApiError> {
    let grant = grant(&state, &token, GrantMethod::Put)?;
    let body = request.into_body().into_data_stream();
    let file = state.tenancy.put_granted(&grant, body, &meta).await?;
    Ok((StatusCode::CREATED, Json(FileView::from(file))))
}
