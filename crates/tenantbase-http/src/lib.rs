//! The HTTP API of tenantbase: one axum router per area, the middleware every request
//! passes through, RFC 9457 problem+json errors, and the OpenAPI document generated from
//! the handlers' annotations.

pub mod access;
pub mod auth;
mod docs;
mod dto;
pub mod extract;
mod files;
pub mod forwarded;
pub mod json;
mod middleware;
mod operations;
mod ops;
mod orgs;
mod paging;
pub mod problem;
mod profiles;
pub mod query;
mod refusals;
mod state;

use axum::Router;
use middleware::RouteTable;
use utoipa_axum::router::OpenApiRouter;

pub use docs::openapi;
pub use json::{ApiCreate, ApiJson, ApiPatch};
pub use middleware::{InFlight, RequestId};
pub use ops::metrics::metrics_handle;
pub use ops::metrics_access::MetricsAccess;
pub use ops::queue_depth::QueueDepthReadings;
pub use problem::{ApiError, FieldError};
pub use state::{AppState, HttpSettings, Services};

/// The whole API with its middleware, ready to serve.
pub fn router(state: AppState) -> Router {
    layered(api_routes(), state)
}

/// Every route of the API, with its OpenAPI annotations, before middleware.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::base())
        .merge(ops::routes())
        .merge(auth::routes())
        .merge(orgs::routes())
        .merge(files::routes())
        .merge(profiles::routes())
}

/// The management listener (`metrics.listen`): `/metrics` only, through the same
/// middleware, so its errors are problem+json too.
pub fn management_router(state: AppState) -> Router {
    let router = ops::management_routes().fallback(problem::unknown_route);
    middleware::apply(router, &state, RouteTable::default()).with_state(state)
}

/// Wraps `routes` in the documentation endpoints, the unknown-route fallback and the
/// production middleware stack. Tests use it to serve extra routes exactly as the real
/// ones are served.
pub fn layered(routes: OpenApiRouter<AppState>, state: AppState) -> Router {
    let (router, api, limits) = middleware::split(routes);
    let router = docs::mount(router, api).fallback(problem::unknown_route);
    middleware::apply(router, &state, limits).with_state(state)
}
