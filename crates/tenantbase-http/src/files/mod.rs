//! `/v1/orgs/{org_id}/files…` and `/v1/blobs/{token}`: org files in the object store.

mod blobs;
mod download;
mod dto;
mod handlers;
mod multipart;

use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use tenantbase_core::tenancy::Access;
use tenantbase_domain::Permission::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::access::guard;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    use Access::{Permission as Needs, Public};
    // Uploads stream whatever their size: the file cap and quota bound them, not the
    // request body limit (see `streams_body`).
    let uploads = OpenApiRouter::new()
        .routes(guard(Needs(FilesWrite), routes!(handlers::upload_file)))
        .routes(guard(Public, routes!(blobs::put_blob)))
        .layer(DefaultBodyLimit::disable());
    OpenApiRouter::new()
        .routes(guard(Needs(FilesRead), routes!(handlers::list_files)))
        .routes(guard(Needs(FilesRead), routes!(handlers::get_file)))
        .routes(guard(Needs(FilesRead), routes!(handlers::download_file)))
        .routes(guard(Needs(FilesDelete), routes!(handlers::delete_file)))
        .routes(guard(Needs(FilesWrite), routes!(handlers::presign_upload)))
        .routes(guard(Needs(FilesWrite), routes!(handlers::complete_upload)))
        .routes(guard(Needs(FilesRead), routes!(handlers::presign_download)))
        .routes(guard(Public, routes!(blobs::get_blob)))
        .merge(uploads)
}

/// Requests whose body streams to the object store, exempt from `http.body_limit_bytes`:
/// `POST /v1/orgs/{org_id}/files` and `PUT /v1/blobs/{token}`.
pub(crate) fn streams_body(method: &Method, path: &str) -> bool {
    matches!(
        (method, segments(path).as_slice()),
        (&Method::POST, ["", "v1", "orgs", _, "files"]) | (&Method::PUT, ["", "v1", "blobs", _])
    )
}

/// Requests that take as long as their bytes take, exempt from the request timeout: the
/// uploads, and completing a presigned upload (which reads the stored bytes to hash them).
pub(crate) fn takes_its_time(method: &Method, path: &str) -> bool {
    streams_body(method, path)
        || matches!(
            (method, segments(path).as_slice()),
            (
                &Method::POST,
                ["", "v1", "orgs", _, "files", "uploads", _, "complete"]
            )
        )
}

fn segments(path: &str) -> Vec<&str> {
    path.trim_end_matches('/').split('/').collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uploads_stream() {
        assert!(streams_body(&Method::POST, "/v1/orgs/org_1/files"));
        assert!(streams_body(&Method::PUT, "/v1/blobs/abc"));
        assert!(!streams_body(&Method::GET, "/v1/orgs/org_1/files"));
        assert!(!streams_body(&Method::POST, "/v1/orgs/org_1/files/presign"));
        assert!(!streams_body(&Method::POST, "/v1/orgs/org_1/projects"));
        assert!(!streams_body(&Method::PUT, "/v1/blobs/a/b"));
        let complete = "/v1/orgs/org_1/files/uploads/fil_1/complete";
        assert!(takes_its_time(&Method::POST, complete));
        assert!(!streams_body(&Method::POST, complete));
        assert!(!takes_its_time(&Method::GET, "/v1/orgs/org_1/files"));
    }
}
