//! RFC 9457 problem details. Handlers return `ApiError`; it travels to the request-context
//! middleware as a response extension, which writes the one problem+json body with the
//! request id. Errors made outside handlers (unknown route, 405, 413, timeouts, panics)
//! get the same body from their status there, so every error looks alike.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tenantbase_core::StoreError;
use tenantbase_domain::members::MemberProblem;
use tenantbase_domain::page::InvalidCursor;
use utoipa::ToSchema;

pub const CONTENT_TYPE: &str = "application/problem+json";

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request body (`name`, `members[2].email`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    /// A text holding NUL, which PostgreSQL cannot store (and no client means to send).
    pub(crate) fn nul(field: String) -> Self {
        Self {
            field,
            message: "must not contain a NUL character (U+0000)".to_owned(),
        }
    }
}

impl From<MemberProblem> for FieldError {
    fn from(problem: MemberProblem) -> Self {
        Self {
            field: problem.field,
            message: problem.message,
        }
    }
}

/// An error to answer with. Build it with the constructors below.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    detail: Cow<'static, str>,
    errors: Vec<FieldError>,
    /// Boxed: rare, and it keeps `ApiError` small enough to return by value.
    extensions: Option<Box<serde_json::Map<String, serde_json::Value>>>,
    /// A header the status calls for (`WWW-Authenticate`, `Retry-After`).
    header: Option<StatusHeader>,
}

/// The one header an error response may add.
#[derive(Debug, Clone, Copy)]
enum StatusHeader {
    /// The RFC 6750 challenge of a 401 about bearer tokens.
    WwwAuthenticate(&'static str),
    /// Seconds until a throttled client may try again.
    RetryAfter(u32),
    /// A 416's `Content-Range: bytes */{size}`.
    UnsatisfiedRange(u64),
    /// A 405's `Allow`.
    Allow(&'static str),
}

/// The body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem: `urn:tenantbase:problem:{code}`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, machine-readable error code.
    pub code: String,
    /// The `X-Request-Id` of the request, for support and logs.
    pub request_id: String,
    /// Invalid fields (422 only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Further members specific to the problem (e.g. `checks` on `/ready`).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extensions: serde_json::Map<String, serde_json::Value>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: Cow::Borrowed(code),
            detail: detail.into(),
            errors: Vec::new(),
            extensions: None,
            header: None,
        }
    }

    /// A 401 for a missing or unusable bearer token, with the RFC 6750 challenge.
    pub fn invalid_token(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        let mut error = Self::unauthorized(code, detail);
        error.header = Some(StatusHeader::WwwAuthenticate(if code == "missing_token" {
            "Bearer"
        } else {
            "Bearer error=\"invalid_token\""
        }));
        error
    }

    pub fn bad_request(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    pub fn forbidden(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, detail)
    }

    pub fn not_found(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn conflict(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 422 listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let mut error = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            "The request has invalid fields.",
        );
        error.errors = errors;
        error
    }

    pub fn too_many_requests(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, code, detail)
    }

    /// A 429 telling the client when to come back (`Retry-After`, whole seconds, at least 1).
    pub fn throttled(
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
        retry_after: std::time::Duration,
    ) -> Self {
        Self::too_many_requests(code, detail).with_retry_after(retry_after)
    }

    /// A 503 `overloaded`: the server sheds this request at once rather than queue it
    /// behind work it cannot finish in time, and says when to come back.
    pub fn overloaded(
        detail: impl Into<Cow<'static, str>>,
        retry_after: std::time::Duration,
    ) -> Self {
        Self::unavailable("overloaded", detail).with_retry_after(retry_after)
    }

    /// Adds `Retry-After` (whole seconds, at least 1) and the same `retry_after` member.
    fn with_retry_after(mut self, retry_after: std::time::Duration) -> Self {
        let seconds = retry_after.as_secs_f64().ceil().max(1.0) as u32;
        self.header = Some(StatusHeader::RetryAfter(seconds));
        self.with_extension("retry_after", seconds.into())
    }

    /// A 416 for a file of `size` bytes, with the `Content-Range` that tells its size.
    pub fn range_not_satisfiable(size: u64) -> Self {
        let mut error = Self::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            format!("The range lies outside the file's {size} bytes."),
        );
        error.header = Some(StatusHeader::UnsatisfiedRange(size));
        error
    }

    /// A 405 naming the one method allowed.
    pub fn method_not_allowed(
        allow: &'static str,
        code: &'static str,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        let mut error = Self::new(StatusCode::METHOD_NOT_ALLOWED, code, detail);
        error.header = Some(StatusHeader::Allow(allow));
        error
    }

    pub fn unavailable(code: &'static str, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail)
    }

    /// A 500 whose cause is logged (with the request id, by the span) and never returned.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "An unexpected error occurred; quote the request id when reporting it.",
        )
    }

    /// Adds a member to the problem body beside the standard ones.
    pub fn with_extension(mut self, name: &str, value: serde_json::Value) -> Self {
        self.extensions
            .get_or_insert_default()
            .insert(name.to_owned(), value);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body for this error in the request `request_id`.
    pub fn into_problem(self, request_id: &str) -> Problem {
        Problem {
            kind: format!("urn:tenantbase:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.into_owned(),
            code: self.code.into_owned(),
            request_id: request_id.to_owned(),
            errors: self.errors,
            extensions: self.extensions.map(|map| *map).unwrap_or_default(),
        }
    }

    /// The generic error for a status produced outside any handler.
    pub fn from_status(status: StatusCode) -> Self {
        let (code, detail) = match status.as_u16() {
            400 => ("bad_request", "The request could not be understood."),
            401 => ("unauthorized", "Authentication is required."),
            403 => ("forbidden", "You lack the permission for this action."),
            404 => ("not_found", "No such resource."),
            405 => (
                "method_not_allowed",
                "This method is not allowed on this route; see the Allow header.",
            ),
            408 => ("request_timeout", "The request took too long to arrive."),
            409 => ("conflict", "The request conflicts with the current state."),
            413 => (
                "payload_too_large",
                "The request body is larger than this server accepts.",
            ),
            415 => (
                "unsupported_media_type",
                "This content type is not accepted here.",
            ),
            422 => ("validation_failed", "The request has invalid fields."),
            429 => ("rate_limited", "Too many requests; retry later."),
            503 => (
                "service_unavailable",
                "The service cannot answer right now; retry later.",
            ),
            504 => ("gateway_timeout", "An upstream took too long to answer."),
            s if s >= 500 => (
                "internal_error",
                "An unexpected error occurred; quote the request id when reporting it.",
            ),
            _ => ("error", "The request failed."),
        };
        Self::new(status, code, detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = self.status.into_response();
        match self.header {
            Some(StatusHeader::WwwAuthenticate(challenge)) => {
                response.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static(challenge),
                );
            }
            Some(StatusHeader::RetryAfter(seconds)) => {
                response.headers_mut().insert(
                    axum::http::header::RETRY_AFTER,
                    axum::http::HeaderValue::from(seconds),
                );
            }
            Some(StatusHeader::UnsatisfiedRange(size)) => {
                response.headers_mut().insert(
                    axum::http::header::CONTENT_RANGE,
                    axum::http::HeaderValue::from_str(&format!("bytes */{size}"))
                        .unwrap_or(axum::http::HeaderValue::from_static("bytes */0")),
                );
            }
            Some(StatusHeader::Allow(method)) => {
                response.headers_mut().insert(
                    axum::http::header::ALLOW,
                    axum::http::HeaderValue::from_static(method),
                );
            }
            None => {}
        }
        response.extensions_mut().insert(PendingProblem(self));
        response
    }
}

/// An `ApiError` waiting for the middleware to render it with the request id.
#[derive(Debug, Clone)]
pub(crate) struct PendingProblem(pub(crate) ApiError);

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound => Self::from_status(StatusCode::NOT_FOUND),
            StoreError::Conflict { constraint } => {
                Self::conflict("conflict", "A resource with these values already exists.")
                    .with_extension("constraint", constraint.into())
            }
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                Self::unavailable(
                    "database_unavailable",
                    "The database is not answering; retry later.",
                )
            }
            StoreError::Contended(cause) => {
                tracing::warn!(error = %cause, "transaction rolled back by a conflict");
                Self::unavailable(
                    "database_contention",
                    "The request collided with a concurrent one and was rolled back; retry.",
                )
            }
            other => Self::internal(&other),
        }
    }
}

/// A cursor the list did not make is the `cursor` field's problem (422).
impl From<InvalidCursor> for ApiError {
    fn from(invalid: InvalidCursor) -> Self {
        Self::validation(vec![FieldError {
            field: "cursor".to_owned(),
            message: invalid.to_string(),
        }])
    }
}

/// The fallback for paths no route matches.
pub(crate) async fn unknown_route() -> ApiError {
    ApiError::not_found("route_not_found", "No route matches this path.")
}
