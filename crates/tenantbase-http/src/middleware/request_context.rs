//! Per-request context: the request id (the client's if well-formed, else a new one), a
//! tracing span carrying it into every log line (and, when traces are exported, the
//! request's server span: `trace_context`), one JSON log line per request (except
//! successful probes, unless `log.probes`), HTTP metrics, the problem+json body for any
//! error response (a panic's included: it becomes a 500), and security headers.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use futures::FutureExt;
use tracing::Instrument;

use super::http_metrics::HttpMetrics;
use super::security_headers;
use crate::HttpSettings;
use crate::problem::{self, ApiError, PendingProblem};

pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// The route label of requests no route matched.
const UNMATCHED: &str = "unmatched";

/// Orchestrators and scrapers poll these; a successful answer says nothing worth a line.
const PROBES: [&str; 3] = ["/health", "/ready", "/metrics"];

/// The id of the request being served, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// What the middleware needs of the app: one `Arc` to clone per request, not the state.
pub(crate) struct RequestContext {
    pub(crate) http: Arc<HttpSettings>,
    pub(crate) metrics: HttpMetrics,
}

pub(crate) async fn handle(
    State(context): State<Arc<RequestContext>>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let client_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .filter(|v| v.to_str().is_ok_and(is_well_formed))
        .cloned();
    let request_id = client_id
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .map_or_else(generate_id, str::to_owned);
    let method = request.method().clone();
    // Route templates, never raw paths: bounded metric labels and no ids or tokens in logs.
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));

    let span = if context.http.trace_context {
        super::trace_context::request_span(request.headers(), &method, route, &request_id)
    } else {
        tracing::info_span!("request", request_id = %request_id)
    };
    let in_flight = context.metrics.start();
    // Panic recovery here rather than in a layer of its own: each layer is a service the
    // router clones for every request.
    let run = AssertUnwindSafe(next.run(request)).catch_unwind();
    let mut response = match run.instrument(span.clone()).await {
        Ok(response) => response,
        Err(panic) => span.in_scope(|| super::report_panic(panic)),
    };
    drop(in_flight);

    let status = response.status();
    if context.http.trace_context {
        super::trace_context::record_status(&span, status);
    }
    if status.is_client_error() || status.is_server_error() {
        response = render_problem(response, &request_id);
    }
    security_headers::apply(response.headers_mut(), &context.http);
    // The client's id goes back as it came; a new one is encoded once.
    let echoed = client_id.or_else(|| HeaderValue::from_str(&request_id).ok());
    if let Some(value) = echoed {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }

    let latency = started.elapsed();
    if logs(&context.http, route, status) {
        span.in_scope(|| {
            tracing::info!(
                method = %method,
                route,
                status = status.as_u16(),
                latency_ms = latency.as_secs_f64() * 1000.0,
                "request"
            );
        });
    }
    context.metrics.record(&method, route, status, latency);
    response
}

/// Whether a request gets its log line: all do but successful probes, unless
/// `log.probes` asks for those too.
fn logs(settings: &HttpSettings, route: &str, status: StatusCode) -> bool {
    settings.log_probes
        || status.is_client_error()
        || status.is_server_error()
        || !PROBES.contains(&route)
}

/// Replaces the body of an error response with the problem+json document: the pending
/// `ApiError` if a handler made one, else the generic problem for the status (axum's own
/// 404/405/413 answers, timeouts, panics).
fn render_problem(response: Response, request_id: &str) -> Response {
    let (mut parts, _body) = response.into_parts();
    let error = match parts.extensions.remove::<PendingProblem>() {
        Some(PendingProblem(error)) => error,
        None => ApiError::from_status(parts.status),
    };
    let problem = error.into_problem(request_id);
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(problem::CONTENT_TYPE),
    );
    Response::from_parts(parts, Body::from(body))
}

/// Ids we echo must be safe in headers and logs: 1–128 of `[A-Za-z0-9._:-]`.
fn is_well_formed(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'))
}

fn generate_id() -> String {
    format!("req_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_safe_ids() {
        assert!(is_well_formed("abc-123_X.y:z"));
        assert!(is_well_formed(&"a".repeat(128)));
        assert!(!is_well_formed(""));
        assert!(!is_well_formed(&"a".repeat(129)));
        assert!(!is_well_formed("a b"));
        assert!(!is_well_formed("a\"b"));
        assert!(!is_well_formed("ä"));
        assert!(is_well_formed(&generate_id()));
    }
}
