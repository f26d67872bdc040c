//! `GET /`: what this server is and where its documentation lives.

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ApiInfo {
    name: &'static str,
    version: &'static str,
    /// Links to the interactive reference, the OpenAPI document and the probes.
    links: Links,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Links {
    docs: &'static str,
    openapi: &'static str,
    health: &'static str,
    ready: &'static str,
    metrics: &'static str,
}

/// API name, version and documentation links.
#[utoipa::path(get, path = "/", tag = "operations",
    responses((status = 200, description = "About this API", body = ApiInfo)))]
pub(crate) async fn info() -> Json<ApiInfo> {
    Json(ApiInfo {
        name: "tenantbase",
        version: env!("CARGO_PKG_VERSION"),
        links: Links {
            docs: "/docs",
            openapi: "/openapi.json",
            health: "/health",
            ready: "/ready",
            metrics: "/metrics",
        },
    })
}
