//! What a request says about its client (IP, user agent, device, request id), for
//! sessions and audit.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use tenantbase_core::identity::Device;
use tenantbase_domain::model::RequestMeta;

use crate::{ApiError, AppState, FieldError, RequestId};

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
                id: device_id(parts)?,
                label: header_text(parts, "x-device-label", 100),
            },
        })
    }
}

/// The longest `X-Device-Id` taken.
const DEVICE_ID_MAX: usize = 128;

/// The `X-Device-Id` header, whole; `None` when absent or empty. An id is what sessions,
/// `mfa_token`s and trusted devices are bound to, so one that is too long is refused
/// rather than cut (two ids alike in their first characters would be one device), and so
/// is one that is not text (ignoring it would leave the tokens bound to nothing).
fn device_id(parts: &Parts) -> Result<Option<String>, ApiError> {
    let Some(value) = parts.headers.get("x-device-id") else {
        return Ok(None);
    };
    let refused = |message: String| {
        ApiError::validation(vec![FieldError {
            field: "X-Device-Id".to_owned(),
            message,
        }])
    };
    let id = value
        .to_str()
        .map_err(|_| refused("must be visible ASCII text".to_owned()))?;
    if id.len() > DEVICE_ID_MAX {
        return Err(refused(format!(
            "must be at most {DEVICE_ID_MAX} characters"
        )));
    }
    Ok(Some(id.to_owned()).filter(|id| !id.is_empty()))
}

fn client_ip(parts: &Parts, state: &AppState) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| state.http.client_ip(peer.ip(), &parts.headers))
}

/// A header's text: its bytes read as UTF-8 (a device's label may be in any language),
/// control characters left out, cut to `max` characters; `None` when absent, empty or
/// not UTF-8.
fn header_text(parts: &Parts, name: &str, max: usize) -> Option<String> {
    let text = std::str::from_utf8(parts.headers.get(name)?.as_bytes()).ok()?;
    let text: String = text.chars().filter(|c| !c.is_control()).take(max).collect();
    (!text.is_empty()).then_some(text)
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
