//! Operations endpoints: liveness, readiness, API info and Prometheus metrics.

mod health;
mod info;
pub mod metrics;
pub mod metrics_access;
pub mod queue_depth;
mod ready;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use tenantbase_core::tenancy::Access;

use crate::AppState;
use crate::access::guard;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(guard(Access::Public, routes!(health::health)))
        .routes(guard(Access::Public, routes!(ready::ready)))
        .routes(guard(Access::Public, routes!(info::info)))
        .routes(guard(Access::Public, routes!(metrics::metrics)))
}

/// The management listener's routes: `/metrics` alone (`metrics.listen`).
pub(crate) fn management_routes() -> axum::Router<AppState> {
    axum::Router::new().route("/metrics", axum::routing::get(metrics::management_metrics))
}
