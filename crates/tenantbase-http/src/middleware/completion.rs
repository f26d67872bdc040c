//! Requests that may change state run to completion in a task of their own. A client that
//! hangs up, the request timeout or a shutdown drops only the wait for the answer, never a
//! unit of work half way — nor what follows its commit (cache evictions, object deletes).
//!
//! Work nobody waits for any more must not pile up: a client that hangs up and retries at
//! once would otherwise queue writes faster than the store commits them. So a write first
//! takes one of `http.max_concurrent_writes` slots — a wait that is dropped harmlessly,
//! since nothing has started — and holds it until its task ends. Long-running routes
//! (streamed uploads) skip the slots: they last as long as their bytes and are bounded by
//! their own caps.
//!
//! Every request, read or write, is counted in one task tracker, so a graceful shutdown
//! knows what it waits for and what it abandons at its deadline (ADR 0008).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::InFlight;

/// Runs `request` through `next`: tracked, and in a task of its own when it may change
/// state, after taking a write slot unless its route is `long_running`.
pub(super) async fn run(
    in_flight: &InFlight,
    long_running: bool,
    request: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    if request.method().is_safe() {
        return in_flight.tasks.track_future(next.run(request)).await;
    }
    let slot = if long_running {
        None
    } else {
        match in_flight.write_slots.clone().acquire_owned().await {
            Ok(slot) => Some(slot),
            Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
        }
    };
    // The task keeps the request's span: its log lines carry the request id, and its
    // units of work are children of the request's trace.
    let task = in_flight.tasks.spawn(
        async move {
            let response = next.run(request).await;
            drop(slot);
            response
        }
        .in_current_span(),
    );
    match task.await {
        Ok(response) => response,
        // The request context's panic catcher turns it into a 500.
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}
