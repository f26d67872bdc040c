//! The OpenAPI 3.1 document, assembled from the handlers' `#[utoipa::path]` annotations,
//! served at `/openapi.json`, and the interactive reference at `/docs`.

use std::sync::Arc;

use axum::routing::get;
use axum::{Extension, Json, Router};
use utoipa::OpenApi;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ResponseBuilder};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "tenantbase", description = "The backend foundation of a multi-tenant SaaS."),
    // Relative: the same document is served by every deployment (and printed by
    // `tenantbase openapi` without one), so its paths resolve against wherever it was read.
    servers((url = "/", description = "The server this document was read from")),
    paths(openapi_json),
    components(schemas(crate::problem::Problem, crate::problem::FieldError)),
    modifiers(&DocsPage),
    tags(
        (name = "operations", description = "Probes, metrics and documentation"),
        (name = "auth", description = "Accounts, sign-in, sessions and tokens"),
    ),
)]
struct ApiDoc;

/// The document before routes add their paths.
pub(crate) fn base() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The complete document, as served at `/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    crate::middleware::split(crate::api_routes()).1
}

/// Adds `/openapi.json` and the `/docs` pages to `router`.
pub(crate) fn mount(router: Router<AppState>, api: utoipa::openapi::OpenApi) -> Router<AppState> {
    let swagger = SwaggerUi::new("/docs").config(Config::from("/openapi.json"));
    router
        .route(
            "/openapi.json",
            get(openapi_json).layer(Extension(Arc::new(api))),
        )
        .merge(swagger)
}

/// This OpenAPI 3.1 document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI document", body = Object)))]
async fn openapi_json(
    Extension(api): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(api.as_ref().clone())
}

/// Lists `/docs`, which SwaggerUI serves outside the annotated handlers, and declares the
/// bearer-token security scheme the auth routes refer to.
struct DocsPage;

impl utoipa::Modify for DocsPage {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let operation = OperationBuilder::new()
            .summary(Some("Interactive API reference (Swagger UI)"))
            .operation_id(Some("docs"))
            .tag("operations")
            .response(
                "200",
                ResponseBuilder::new()
                    .description("An HTML page")
                    .content("text/html", ContentBuilder::new().build()),
            )
            .response(
                "303",
                ResponseBuilder::new().description("To `/docs/`, where the page is"),
            )
            .build();
        openapi.paths.paths.insert(
            "/docs".to_owned(),
            PathItem::new(HttpMethod::Get, operation),
        );
        // Both documentation pages are public, and document what every route may answer,
        // like the routes registered through `guard`.
        for path in ["/docs", "/openapi.json"] {
            if let Some(operation) = openapi
                .paths
                .paths
                .get_mut(path)
                .and_then(|item| item.get.as_mut())
            {
                operation
                    .extensions
                    .get_or_insert_with(Default::default)
                    .insert(crate::access::ACCESS_EXTENSION.to_owned(), "public".into());
                operation.security = Some(Vec::new());
                crate::refusals::document(operation, tenantbase_core::tenancy::Access::Public);
            }
        }
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
