//! Step-up: `POST /v1/auth/reauthenticate` (the password, then a second factor when the
//! account has one; `…/email-code` mails one) or `…/reauthenticate/passkey/…` (a passkey
//! alone) renews the session's `auth_time`; and the check that sensitive org changes (API
//! keys, deleting the org) make of their caller.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_core::identity::{Reauthenticated, SecondFactor};
use tenantbase_core::tenancy::Credential;
use utoipa::ToSchema;

use super::mfa_dto::MfaMethodName;
use super::passkeys::PasskeyAnswerBody;
use crate::extract::{Authenticated, ClientMeta};
use crate::problem::Problem;
use crate::{ApiError, ApiJson, AppState, FieldError};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReauthenticateBody {
    pub password: String,
    /// With a second factor on the account: `totp`, `email_code` (from `POST
    /// /v1/auth/reauthenticate/email-code`) or `backup_code` — one of the `methods` a
    /// `second_factor_required` answer lists. A passkey answers at
    /// `/v1/auth/reauthenticate/passkey/…` instead.
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
/// `auth.step_up_minutes`: the password and, when the account has a second factor, a
/// code of one.
#[utoipa::path(post, path = "/v1/auth/reauthenticate", tag = "auth", security(("bearer" = [])), request_body = ReauthenticateBody,
    responses(
        (status = 200, description = "Reauthenticated", body = ReauthenticatedResponse),
        (status = 401, description = "Wrong password (`invalid_credentials`); the account has a second factor and no `method` and `code` of it came, or a `method` it does not have (`second_factor_required`, with the `methods` it can step up with: `passkey`, `totp`, `email_code`, `backup_code`), or a wrong, used or expired code (`invalid_mfa_code`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has no password (`no_password`, with `methods`: `[\"passkey\"]` when it can step up with one, and the `providers` to sign in again with instead), or its second factor cannot answer now (`mfa_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`method: passkey`, which answers at `/v1/auth/reauthenticate/passkey/…`, a `method` without a `code` or a `code` without a `method`, or a malformed body", body = Problem, content_type = "application/problem+json"),
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
        (None, None) => None,
        // Half a second factor is a malformed body, whatever the account has.
        (method, _) => {
            let (missing, given) = match method {
                Some(_) => ("code", "method"),
                None => ("method", "code"),
            };
            return Err(ApiError::validation(vec![FieldError {
                field: missing.to_owned(),
                message: format!("is required with `{given}`"),
            }]));
        }
    };
    let renewed = state
        .identity
        .reauthenticate(&principal, &body.password, second, &client.request)
        .await?;
    Ok(Json(renewed.into()))
}

impl From<Reauthenticated> for ReauthenticatedResponse {
    fn from(renewed: Reauthenticated) -> Self {
        Self {
            access_token: renewed.access_token,
            token_type: "Bearer",
            expires_in: renewed.expires_in,
            auth_time: renewed.auth_time,
        }
    }
}

/// Email the caller a code to step up with (6 digits, 10 minutes, single use), for
/// `POST /v1/auth/reauthenticate` with `method: "email_code"`; any earlier step-up code
/// stops working (a sign-in's code does not). Sends have a per-account budget apart
/// from the sign-in's (`/v1/auth/mfa/email/send`), which a session cannot use up.
#[utoipa::path(post, path = "/v1/auth/reauthenticate/email-code", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued to the account's verified address"),
        (status = 409, description = "This account gets no codes by email (`mfa_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many codes sent (`too_many_attempts`) or requests from this address (`rate_limited`); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn send_step_up_email_code(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .send_step_up_email_code(&principal, &client.request)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// Start a step-up with a passkey: WebAuthn request options, `{"publicKey": {…}}`,
/// listing the caller's passkeys only, user verification required. The challenge can be
/// answered once, within 5 minutes, in the same session.
#[utoipa::path(post, path = "/v1/auth/reauthenticate/passkey/start", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Request options (user verification required)", body = Object),
        (status = 404, description = "The caller has no passkey (`mfa_not_enrolled`), or passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start_passkey_step_up(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    _client: ClientMeta,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        state.identity.start_passkey_step_up(&principal).await?,
    ))
}

/// Finish a step-up with the passkey's answer. A user-verified passkey is two factors by
/// itself, so no password is needed; the session keeps its `amr`.
#[utoipa::path(post, path = "/v1/auth/reauthenticate/passkey/finish", tag = "auth", security(("bearer" = [])),
    request_body = PasskeyAnswerBody,
    responses(
        (status = 200, description = "Reauthenticated", body = ReauthenticatedResponse),
        (status = 401, description = "Refused (`passkey_refused`): no pending step-up of the caller's session (unknown, used or expired challenge, or one another session started), another account's or a removed passkey, wrong origin, bad signature, no user verification, or a signature counter that did not increase", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The credential is not a WebAuthn authentication response", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn finish_passkey_step_up(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiJson(body): ApiJson<PasskeyAnswerBody>,
) -> Result<Json<ReauthenticatedResponse>, ApiError> {
    let renewed = state
        .identity
        .finish_passkey_step_up(&principal, body.credential, &client.request)
        .await?;
    Ok(Json(renewed.into()))
}

/// A signed-in user must have authenticated recently for this change. An API key has no
/// sign-in to renew, so it is refused whatever its permissions: a leaked key must not
/// reach what a stolen session cannot without the password.
pub(crate) fn require_recent_sign_in(
    state: &AppState,
    credential: &Credential,
) -> Result<(), ApiError> {
    match credential {
        Credential::User(principal) => Ok(state.identity.require_recent_auth(principal)?),
        Credential::ApiKey(_) => Err(ApiError::forbidden(
            "user_required",
            "This change needs a recent sign-in: only a signed-in user can make it, not an API key.",
        )),
    }
}
