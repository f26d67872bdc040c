//! `GET /metrics`: Prometheus text. HTTP metrics are recorded by the request-context
//! middleware, the audit seal delays by the sealer (`tenantbase_core::audit::seal`);
//! database pool and process figures are sampled at scrape time, the job queue's depth
//! and the audit backlog at most once per interval (`queue_depth`). Who may scrape it, and on which listener,
//! is `MetricsAccess`'s call.

use std::sync::OnceLock;

use axum::extract::State;
use axum::http::header;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tenantbase_core::audit::seal::age_secs;

use super::metrics_access::Listener;
use crate::{ApiError, AppState};

/// Latency buckets in seconds, from sub-millisecond up to the request timeout range.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The process-wide recorder (the `metrics` facade has exactly one), installed on first use.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("http_request_duration_seconds".to_owned()),
                    LATENCY_BUCKETS,
                )
                .expect("bucket list is not empty")
                .set_buckets_for_metric(Matcher::Prefix("job_".to_owned()), LATENCY_BUCKETS)
                .expect("bucket list is not empty")
                .set_buckets_for_metric(
                    Matcher::Full("audit_seal_delay_seconds".to_owned()),
                    LATENCY_BUCKETS,
                )
                .expect("bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first, e.g. by an embedding
            // program; our handle then renders nothing, which its metrics make obvious.
            let _ = metrics::set_global_recorder(recorder);
            metrics::describe_counter!(
                "http_requests_total",
                "HTTP requests by method, route template and status"
            );
            metrics::describe_histogram!(
                "http_request_duration_seconds",
                metrics::Unit::Seconds,
                "HTTP request latency by method, route template and status"
            );
            metrics::describe_gauge!("http_requests_in_flight", "HTTP requests being served now");
            metrics::describe_gauge!(
                "db_pool_connections",
                "Database pool connections by state (open, idle, max)"
            );
            metrics::describe_gauge!(
                "audit_events_unsealed",
                "Audit events recorded but not yet sealed into their chains (read at most once a second)"
            );
            metrics::describe_gauge!(
                "audit_oldest_unsealed_seconds",
                metrics::Unit::Seconds,
                "Age of the oldest audit event not yet sealed (read at most once a second)"
            );
            metrics::describe_histogram!(
                "audit_seal_delay_seconds",
                metrics::Unit::Seconds,
                "Per audit event, the time from its recording to its sealing"
            );
            process_collector().describe();
            handle
        })
        .clone()
}

/// What the database holds: `jobs_queue_depth{kind,state}` (pairs that emptied since the
/// last reading read 0), and the audit events recorded but not sealed,
/// `audit_events_unsealed` and `audit_oldest_unsealed_seconds` — read here rather than
/// by the sealer, so a sealer that is stuck or slow shows as a growing backlog.
async fn record_database_readings(state: &AppState) {
    let Some(_reading) = state.queue_depth.claim() else {
        return;
    };
    match state.store.queue_depth().await {
        Ok(depths) => state.queue_depth.record(depths),
        Err(error) => tracing::warn!(%error, "reading the job queue depth failed"),
    }
    match state.store.unsealed_chains().await {
        Ok(unsealed) => {
            let count: u64 = unsealed.iter().map(|chain| chain.count).sum();
            let oldest = unsealed.iter().map(|chain| chain.oldest).min();
            let age = oldest.map_or(0.0, |oldest| age_secs(oldest, chrono::Utc::now()));
            metrics::gauge!("audit_events_unsealed").set(count as f64);
            metrics::gauge!("audit_oldest_unsealed_seconds").set(age);
        }
        Err(error) => tracing::warn!(%error, "reading the audit backlog failed"),
    }
}

fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Prometheus metrics. With `metrics.listen` set they are served only on that listener
/// (404 here); with `metrics.token` set, only to `Authorization: Bearer <token>`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses(
        (status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"),
        (status = 401, description = "`metrics.token` is set and the request lacks it (`missing_token`, `invalid_token`)", body = crate::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "Served on the management listener instead (`metrics.listen`)", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn metrics(
    State(state): State<AppState>,
    parts: Parts,
) -> Result<Response, ApiError> {
    state.http.metrics.admit(Listener::Api, &parts)?;
    Ok(scrape(&state).await)
}

/// `/metrics` on the management listener.
pub(crate) async fn management_metrics(
    State(state): State<AppState>,
    parts: Parts,
) -> Result<Response, ApiError> {
    state.http.metrics.admit(Listener::Management, &parts)?;
    Ok(scrape(&state).await)
}

async fn scrape(state: &AppState) -> Response {
    let pool = state.store.pool_stats();
    let backend = state.store.backend().as_str();
    for (kind, value) in [("open", pool.size), ("idle", pool.idle), ("max", pool.max)] {
        metrics::gauge!("db_pool_connections", "state" => kind, "backend" => backend)
            .set(f64::from(value));
    }
    record_database_readings(state).await;
    process_collector().collect();
    state.metrics.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
