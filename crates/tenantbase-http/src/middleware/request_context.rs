//! Per-request context: the request id (the client's if well-formed, else a new one), a
//! tracing span carrying it into every log line, one JSON log line per request, HTTP
//! metrics, the problem+json body for any error response, and security headers.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::security_headers;
use crate::AppState;
use crate::problem::{self, ApiError, PendingProblem};

pub(crate) const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id of the request being served, available to handlers as an extension.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

pub(crate) async fn handle(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_well_formed(id))
        .map_or_else(generate_id, str::to_owned);
    let method = request.method().clone();
    // Route templates, never raw paths: bounded metric labels and no ids or tokens in logs.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    request
        .extensions_mut()
        .insert(RequestId(request_id.clone()));

    let span = tracing::info_span!("request", request_id = %request_id);
    let in_flight = InFlight::start();
    let mut response = next.run(request).instrument(span.clone()).await;
    drop(in_flight);

    if response.status().is_client_error() || response.status().is_server_error() {
        response = render_problem(response, &request_id);
    }
    security_headers::apply(response.headers_mut(), &state.http);
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }

    let status = response.status().as_u16();
    let latency = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            route = %route,
            status,
            latency_ms = latency.as_secs_f64() * 1000.0,
            "request"
        );
    });
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(latency.as_secs_f64());
    response
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

/// Counts a request as in flight until dropped, also when the client goes away.
struct InFlight;

impl InFlight {
    fn start() -> Self {
        metrics::gauge!("http_requests_in_flight").increment(1.0);
        InFlight
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        metrics::gauge!("http_requests_in_flight").decrement(1.0);
    }
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
