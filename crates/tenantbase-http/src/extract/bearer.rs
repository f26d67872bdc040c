//! The bearer token of a request's `Authorization` header, shared by the API's
//! credentials and the `/metrics` token.

use axum::http::header;
use axum::http::request::Parts;

use crate::ApiError;

/// The bearer token of the `Authorization` header; 401 with a challenge without one.
pub(crate) fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Err(ApiError::invalid_token(
            "missing_token",
            "Send an access token: `Authorization: Bearer …`.",
        ));
    };
    value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::invalid_token(
                "invalid_token",
                "The Authorization header is not a bearer token.",
            )
        })
}
