//! Extractors: the authenticated principal behind a bearer token, and what a request
//! says about its client (IP, user agent, device, request id) for sessions and audit.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use tenantbase_core::identity::{Device, IdentityError, Principal};
use tenantbase_store::events::RequestMeta;

use crate::{ApiError, AppState, RequestId};

/// A request from a signed-in user; extracting it answers 401 otherwise.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(ApiError::invalid_token(
                "missing_token",
                "Send an access token: `Authorization: Bearer …`.",
            ));
        };
        let token = value
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
            })?;
        match state.identity.authenticate(token).await {
            Ok(principal) => Ok(Authenticated(principal)),
            Err(IdentityError::Store(error)) => Err(error.into()),
            Err(_) => Err(ApiError::invalid_token(
                "invalid_token",
                "The access token is invalid, expired or revoked.",
            )),
        }
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
        let forwarded_for = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let addr = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| state.http.client_ip(peer.ip(), forwarded_for));
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
        let header_text = |name: &str, max: usize| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(max).collect::<String>())
                .filter(|v| !v.is_empty())
        };
        Ok(ClientMeta {
            request: RequestMeta {
                ip: addr.map(|ip| ip.to_string()),
                user_agent: header_text("user-agent", 256),
                request_id: parts.extensions.get::<RequestId>().map(|id| id.0.clone()),
            },
            device: Device {
                id: header_text("x-device-id", 128),
                label: header_text("x-device-label", 100),
            },
        })
    }
}
