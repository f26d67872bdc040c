//! Step-up: `POST /v1/auth/reauthenticate` renews the session's `auth_time`, and the
//! check that sensitive org changes (API keys, deleting the org) make of their caller.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_core::identity::SecondFactor;
use tenantbase_core::tenancy::Credential;
use utoipa::ToSchema;

use super::mfa_dto::MfaMethodName;
use crate::extract::{Authenticated, ClientMeta};
use crate::problem::Problem;
use crate::{ApiError, ApiJson, AppState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReauthenticateBody {
    pub password: String,
    /// With an authenticator app on the account: `totp` or `backup_code`.
    pub method: Option<MfaMethodName>,
    pub code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ReauthenticatedResponse {
    /// A new access token for the same session, carrying the renewed `auth_time`; the
    /// refresh token is unchanged.
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub auth_time: DateTime<Utc>,
}

/// Prove again who you are, so that changes needing a recent sign-in are allowed for
/// `auth.step_up_minutes`.
#[utoipa::path(post, path = "/v1/auth/reauthenticate", tag = "auth", security(("bearer" = [])), request_body = ReauthenticateBody,
    responses(
        (status = 200, description = "Reauthenticated", body = ReauthenticatedResponse),
        (status = 401, description = "Wrong password (`invalid_credentials`); the account has an authenticator app and no `method` and `code` came (`second_factor_required`, with `methods`), or a wrong one (`invalid_mfa_code`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The account has no password", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong passwords (`too_many_attempts`) or requests from this address (`rate_limited`); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many password hashes waiting (`overloaded`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn reauthenticate(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiJson(body): ApiJson<ReauthenticateBody>,
) -> Result<Json<ReauthenticatedResponse>, ApiError> {
    let second = match (body.method, body.code.as_deref()) {
        (Some(method), Some(code)) => Some(SecondFactor {
            method: method.into(),
            code,
        }),
        _ => None,
    };
    let renewed = state
        .identity
        .reauthenticate(&principal, &body.password, second, &client.request)
        .await?;
    Ok(Json(ReauthenticatedResponse {
        access_token: renewed.access_token,
        token_type: "Bearer",
        expires_in: renewed.expires_in,
        auth_time: renewed.auth_time,
    }))
}

/// A signed-in user must have authenticated recently for this change; an API key has no
/// sign-in to renew and is bounded by its own permissions instead.
pub(crate) fn require_recent_sign_in(
    state: &AppState,
    credential: &Credential,
) -> Result<(), ApiError> {
    match credential {
        Credential::User(principal) => Ok(state.identity.require_recent_auth(principal)?),
        Credential::ApiKey(_) => Ok(()),
    }
}
