//! The middleware every request passes through, outermost first: compression, the request
//! context (id, log line, metrics, problem bodies, security headers, panic recovery), and
//! the matched route's limits — the body limit, the request timeout, running writes to
//! completion — in one layer (`guard_route`). Routes that depart
//! from the timeout, the write slots or the body limit say so where they are declared
//! (`limits::limited`); the table of their limits is all this knows of them.

mod client_wait;
mod completion;
mod http_metrics;
mod in_flight;
mod limits;
mod request_context;
mod security_headers;
mod trace_context;

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};

use crate::AppState;
use limits::BodyLimit;

pub use in_flight::InFlight;
pub(crate) use limits::{RouteLimits, RouteTable, limited, split};
pub use request_context::RequestId;
pub(crate) use security_headers::STORED_CSP;

/// `routes`: the limits routes declared for themselves (`split` collects them). Each layer
/// gets only what it uses of the state: they run on every request, and cloning the whole
/// state costs one reference count per field.
pub(crate) fn apply(
    router: Router<AppState>,
    state: &AppState,
    routes: RouteTable,
) -> Router<AppState> {
    let settings = &state.http;
    let body_limit = settings.body_limit_bytes;
    let context = Arc::new(request_context::RequestContext {
        http: settings.clone(),
        metrics: http_metrics::HttpMetrics::new(),
    });
    let guard = Arc::new(RouteGuard {
        state: state.clone(),
        routes,
        in_flight: state.in_flight.clone(),
        timeout: settings.request_timeout,
        body_limit,
    });
    // `Router::layer` wraps what is already there: the last layer added runs first.
    router
        .layer(axum::extract::DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(guard, guard_route))
        .layer(axum::middleware::from_fn_with_state(
            context,
            request_context::handle,
        ))
        .layer(
            CompressionLayer::new()
                .gzip(true)
                .br(true)
                .compress_when(DefaultPredicate::new().and(not_a_download)),
        )
}

/// File downloads go as stored: they are often compressed already, and compressing would
/// drop `Accept-Ranges`.
fn not_a_download(
    _: StatusCode,
    _: axum::http::Version,
    headers: &axum::http::HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    !headers.contains_key(axum::http::header::CONTENT_DISPOSITION)
}

/// What the server applies to a request by its route's limits. One layer, not one
/// for each: a router clones every layer of the matched route for each request.
struct RouteGuard {
    /// For the access guards of org routes, which read it from the request (`access`).
    state: AppState,
    routes: RouteTable,
    in_flight: InFlight,
    timeout: Duration,
    body_limit: usize,
}

/// The matched route's limits applied, in this order: a body over its cap is refused
/// (413) before anything starts; then, under the request timeout, the request runs to
/// completion, a write in a task of its own (`completion`).
async fn guard_route(
    State(guard): State<Arc<RouteGuard>>,
    mut request: Request<Body>,
    next: axum::middleware::Next,
) -> Response {
    request.extensions_mut().insert(guard.state.clone());
    let limits = guard.routes.limits_of(&request);
    let long_running = limits.long_running();
    let (request, waiting) = if long_running {
        (request, None)
    } else {
        watch_body(request)
    };
    let request = match cap_body(guard.body_limit, limits.body(), request) {
        Ok(request) => request,
        Err(too_large) => return too_large.into_response(),
    };
    let run = completion::run(&guard.in_flight, long_running, request, next);
    if long_running {
        return run.await;
    }
    match tokio::time::timeout(guard.timeout, run).await {
        Ok(response) => response,
        Err(_) if waiting.is_some_and(|w| w.load(Ordering::Relaxed)) => {
            StatusCode::REQUEST_TIMEOUT.into_response()
        }
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

/// A request still running after `http.request_timeout` gets 503 — or 408 when it is
/// waiting for the rest of a body the client is slow to send: a client's fault, not an
/// outage. Long-running routes (uploads) take as long as their bytes take. A write goes on
/// to its end meanwhile. This watches the body for that, if there is one.
fn watch_body(request: Request<Body>) -> (Request<Body>, Option<Arc<AtomicBool>>) {
    // A request without a body (most) cannot wait on one: no watch, no allocation.
    if request.body().is_end_stream() {
        return (request, None);
    }
    let (parts, body) = request.into_parts();
    let (body, waiting) = client_wait::Watched::new(body);
    (Request::from_parts(parts, Body::new(body)), Some(waiting))
}

/// Answers 413 up front when `Content-Length` is over `http.body_limit_bytes` (or the
/// route's own limit), and caps bodies that do not say their length. Streamed bodies
/// (file uploads) are exempt: they go to the object store under their own caps.
fn cap_body(
    server_limit: usize,
    route_limit: BodyLimit,
    request: Request<Body>,
) -> Result<Request<Body>, StatusCode> {
    let limit = match route_limit {
        BodyLimit::Streamed => return Ok(request),
        BodyLimit::Max(bytes) => bytes,
        BodyLimit::Server => server_limit,
    };
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(StatusCode::PAYLOAD_TOO_LARGE);
    }
    Ok(request.map(|body| Body::new(http_body_util::Limited::new(body, limit))))
}

/// A panicking handler becomes a bare 500, which the request context turns into a problem
/// with the request id. The panic message goes to the log only.
fn report_panic(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("non-string panic payload");
    tracing::error!(panic = message, "handler panicked");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}
