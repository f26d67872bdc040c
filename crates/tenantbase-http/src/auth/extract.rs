//! Extractors: the authenticated principal behind a bearer token, and what a request
//! says about its client (IP, user agent, device, request id) for sessions and audit.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use tenantbase_core::identity::{Device, IdentityError, Principal};
use tenantbase_domain::model::RequestMeta;

use crate::{ApiError, AppState, RequestId};

/// A request from a signed-in user; extracting it answers 401 otherwise. On account
/// routes (`Access::SignedIn`) the access guard has admitted it already (no org-bound
/// token); elsewhere it is authenticated here.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(admitted) = parts.extensions.remove::<Authenticated>() {
            return Ok(admitted);
        }
        let token = bearer_token(parts)?;
        authenticate(state, token).await.map(Authenticated)
    }
}

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

/// The principal behind a user's access token whose session is live.
pub(crate) async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    match state.identity.authenticate(token).await {
        Ok(principal) => Ok(principal),
        Err(IdentityError::Store(error)) => Err(error.into()),
        Err(_) => Err(ApiError::invalid_token(
            "invalid_token",
            "The access token is invalid, expired or revoked.",
        )),
    }
}

/// Who the client is, as far as the request tells.
#[derive(Debug, Clone)]
pub struct ClientMeta {
    pub request: RequestMeta,
    pub device: Device,
}

/// Extracting it also spends one request of the client IP's auth budget: every auth
/// route that acts on a client's behalf takes it, so all of them are rate limited (the
/// read-only `/me`, `/sessions`, JWKS and the gateway's `/verify` are not).
impl FromRequestParts<AppState> for ClientMeta {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let addr = client_ip(parts, state);
        state
            .identity
            .throttle()
            .check_request(addr)
            .map_err(|wait| {
                ApiError::throttled(
                    "rate_limited",
                    "Too many requests from this address; retry later.",
                    wait,
                )
            })?;
        Ok(ClientMeta {
            request: request_meta(parts, addr),
            device: Device {
                id: header_text(parts, "x-device-id", 128),
                label: header_text(parts, "x-device-label", 100),
            },
        })
    }
}

fn client_ip(parts: &Parts, state: &AppState) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| state.http.client_ip(peer.ip(), &parts.headers))
}

/// A header's text, cut to `max` characters; `None` when absent, empty or not text.
fn header_text(parts: &Parts, name: &str, max: usize) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.chars().take(max).collect::<String>())
        .filter(|v| !v.is_empty())
}

fn request_meta(parts: &Parts, addr: Option<std::net::IpAddr>) -> RequestMeta {
    RequestMeta {
        ip: addr.map(|ip| ip.to_string()),
        user_agent: header_text(parts, "user-agent", 256),
        request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
    }
}

/// Where a request came from, for audit events (without spending the auth budget).
#[derive(Debug, Clone)]
pub struct RequestInfo(pub RequestMeta);

impl FromRequestParts<AppState> for RequestInfo {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestInfo(request_meta(parts, client_ip(parts, state))))
    }
}
