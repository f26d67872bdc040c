//! The middleware every request passes through, outermost first: compression, the request
//! context (id, log line, metrics, problem bodies, security headers), panic recovery, the
//! request timeout and the body limit.

mod request_context;
mod security_headers;

use std::any::Any;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::body::Limited;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::AppState;

pub use request_context::RequestId;

pub(crate) fn apply(router: Router<AppState>, state: &AppState) -> Router<AppState> {
    let settings = &state.http;
    // `Router::layer` wraps what is already there: the last layer added runs first.
    router
        .layer(axum::extract::DefaultBodyLimit::max(
            settings.body_limit_bytes,
        ))
        .layer(
            ServiceBuilder::new()
                // Answers 413 up front when Content-Length is too large, and caps streamed bodies.
                .layer(RequestBodyLimitLayer::new(settings.body_limit_bytes))
                .map_request(|request: Request<Limited<Body>>| request.map(Body::new)),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            settings.request_timeout,
        ))
        .layer(CatchPanicLayer::custom(report_panic))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_context::handle,
        ))
        .layer(CompressionLayer::new().gzip(true).br(true))
}

/// A panicking handler becomes a bare 500; the request context turns it into a problem
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
