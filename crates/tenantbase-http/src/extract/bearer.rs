//! The bearer token of a request's `Authorization` header, shared by the API's
//! credentials and the `/metrics` token.

use axum::http::header;
use axum::http::request::Parts;

use crate::ApiError;

/// The bearer token of the `Authorization` header; 401 with a challenge without one, and
/// `invalid_token` for anything but exactly one bearer credential.
pub(crate) fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::invalid_token(
            "missing_token",
            "Send an access token: `Authorization: Bearer …`.",
        ));
    };
    // Two credentials leave no telling which one the client meant (a proxy may have added
    // one): neither is taken.
    if values.next().is_some() {
        return Err(ApiError::invalid_token(
            "invalid_token",
            "Send one Authorization header, not several.",
        ));
    }
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        // The scheme is case-insensitive (RFC 9110 §11.1): `Bearer`, `bearer`, `BEARER`.
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::invalid_token(
                "invalid_token",
                "The Authorization header is not a bearer token.",
            )
        })
}
