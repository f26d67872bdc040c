//! The request's span when traces are exported (`HttpSettings::trace_context`): named
//! after the method and route template, with OpenTelemetry's HTTP attributes, continuing
//! the trace of an incoming W3C `traceparent`, and carrying its trace id into the
//! request's log lines (`span.trace_id`). Without export the request span stays the bare
//! one with the request id: nothing here runs.

use axum::http::{HeaderMap, Method, StatusCode};
use opentelemetry::propagation::Extractor;
use opentelemetry::trace::TraceContextExt;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// A server span for one request; `route` is the template (never the raw path).
pub(super) fn request_span(
    headers: &HeaderMap,
    method: &Method,
    route: &str,
    request_id: &str,
) -> Span {
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        otel.name = %format_args!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = route,
        http.response.status_code = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        trace_id = tracing::field::Empty,
    );
    let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.extract(&Headers(headers))
    });
    if parent.span().span_context().is_valid() {
        set_parent(&span, parent);
    }
    let trace_id = span.context().span().span_context().trace_id();
    span.record("trace_id", tracing::field::display(trace_id));
    span
}

/// Records the answer's status; a 5xx marks the span as failed (a 4xx is the client's).
pub(super) fn record_status(span: &Span, status: StatusCode) {
    span.record("http.response.status_code", status.as_u16());
    if status.is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
}

fn set_parent(span: &Span, parent: opentelemetry::Context) {
    // It fails only for a span already started, and this one was just made.
    let _ = span.set_parent(parent);
}

/// The request's headers as the propagator reads them.
struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|name| name.as_str()).collect()
    }
}
