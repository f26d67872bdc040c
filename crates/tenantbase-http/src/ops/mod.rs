//! Operations endpoints: liveness, readiness, API info and Prometheus metrics.

mod health;
mod info;
pub mod metrics;
mod ready;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(ready::ready))
        .routes(routes!(info::info))
        .routes(routes!(metrics::metrics))
}
