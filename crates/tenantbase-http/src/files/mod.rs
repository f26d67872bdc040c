//! `/v1/orgs/{org_id}/files…` and `/v1/blobs/{token}`: org files in the object store.

mod blobs;
pub(crate) mod download;
mod dto;
mod handlers;
mod multipart;

use tenantbase_core::tenancy::Access;
use tenantbase_domain::Permission::*;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::access::guard;
use crate::middleware::{RouteLimits, limited};

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    use Access::{Permission as Needs, Public};
    // Uploads stream whatever their size and however long they take: the file cap and
    // quota bound them, not the request body limit or timeout. Completing a presigned
    // upload reads the stored bytes back to hash them, which takes as long too.
    let (streamed, long_running) = (RouteLimits::STREAMED, RouteLimits::LONG_RUNNING);
    OpenApiRouter::new()
        .routes(limited(
            streamed,
            guard(Needs(FilesWrite), routes!(handlers::upload_file)),
        ))
        .routes(limited(streamed, guard(Public, routes!(blobs::put_blob))))
        .routes(guard(Needs(FilesRead), routes!(handlers::list_files)))
        .routes(guard(Needs(FilesRead), routes!(handlers::get_file)))
        .routes(guard(Needs(FilesRead), routes!(handlers::download_file)))
        .routes(guard(Needs(FilesDelete), routes!(handlers::delete_file)))
        .routes(guard(Needs(FilesWrite), routes!(handlers::presign_upload)))
        .routes(limited(
            long_running,
            guard(Needs(FilesWrite), routes!(handlers::complete_upload)),
        ))
        .routes(guard(Needs(FilesWrite), routes!(handlers::cancel_upload)))
        .routes(guard(Needs(FilesRead), routes!(handlers::presign_download)))
        .routes(guard(Public, routes!(blobs::get_blob)))
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use crate::middleware::{RouteLimits, split};

    #[test]
    fn uploads_declare_their_own_limits() {
        let (_, _, table) = split(super::routes());
        let limits = |method, template| table.get(&method, template);
        let streamed = RouteLimits::STREAMED;
        assert_eq!(limits(Method::POST, "/v1/orgs/{org_id}/files"), streamed);
        assert_eq!(limits(Method::PUT, "/v1/blobs/{token}"), streamed);
        let complete = "/v1/orgs/{org_id}/files/uploads/{upload_id}/complete";
        assert_eq!(limits(Method::POST, complete), RouteLimits::LONG_RUNNING);
        for (method, template) in [
            (Method::GET, "/v1/orgs/{org_id}/files"),
            (Method::POST, "/v1/orgs/{org_id}/files/presign"),
            (
                Method::DELETE,
                "/v1/orgs/{org_id}/files/uploads/{upload_id}",
            ),
            (Method::GET, "/v1/blobs/{token}"),
        ] {
            assert_eq!(
                limits(method, template),
                RouteLimits::default(),
                "{template}"
            );
        }
    }
}
