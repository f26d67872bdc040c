//! `GET /ready`: whether this replica can serve traffic — the database answers and can
//! take a write now, and the object store answers. Each check is bounded by `ready_timeout`, so the probe answers in
//! time even when a dependency hangs instead of failing.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::{ApiError, AppState};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Readiness {
    /// `ready`.
    status: &'static str,
    /// Each dependency and its state (`ok`).
    checks: BTreeMap<&'static str, &'static str>,
}

/// Readiness probe.
#[utoipa::path(get, path = "/ready", tag = "operations",
    responses(
        (status = 200, description = "All dependencies answer", body = Readiness),
        (status = 503, description = "A dependency is down; `checks` names it",
            body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn ready(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let limit = state.http.ready_timeout;
    let (database, database_writer, object_store) = tokio::join!(
        check("database", limit, state.store.ping()),
        check("database_writer", limit, state.store.ping_writer()),
        check("object_store", limit, state.blob.ping()),
    );
    let checks = BTreeMap::from([
        ("database", database),
        ("database_writer", database_writer),
        ("object_store", object_store),
    ]);
    let failing: Vec<&str> = checks
        .iter()
        .filter(|(_, outcome)| **outcome != "ok")
        .map(|(name, _)| *name)
        .collect();
    if failing.is_empty() {
        return Ok(Json(Readiness {
            status: "ready",
            checks,
        }));
    }
    let detail = format!("Not ready: {} not answering.", failing.join(" and "));
    let checks = serde_json::to_value(&checks).unwrap_or_default();
    Err(ApiError::unavailable("dependency_unavailable", detail).with_extension("checks", checks))
}

/// `ok`, `timeout` or `unavailable`. The cause is logged, not returned: a public probe
/// must not reveal hosts or error texts.
async fn check<E: std::fmt::Display>(
    name: &'static str,
    limit: Duration,
    probe: impl Future<Output = Result<(), E>>,
) -> &'static str {
    match tokio::time::timeout(limit, probe).await {
        Ok(Ok(())) => "ok",
        Ok(Err(error)) => {
            tracing::warn!(dependency = name, error = %error, "readiness check failed");
            "unavailable"
        }
        Err(_) => {
            tracing::warn!(
                dependency = name,
                timeout_ms = limit.as_millis() as u64,
                "readiness check timed out"
            );
            "timeout"
        }
    }
}
