//! `/v1/auth/mfa/…` and `/v1/auth/trusted-devices`: enrolling and removing second
//! factors, backup codes, the second step of a sign-in, emailed codes, trusted devices.

use std::cmp::Reverse;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use tenantbase_domain::id::TrustedDeviceId;
use tenantbase_domain::page::{Page, PageQuery};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::handlers::tokens;
use super::mfa_dto::{
    BackupCodes, MfaFactorView, MfaStatusView, MfaTokenBody, MfaVerifyBody, MfaVerifyResponse,
    TotpCodeBody, TotpEnrolmentView, TrustedDeviceView,
};
use crate::AppState;
use crate::access::guard;
use crate::extract::{Authenticated, ClientMeta};
use crate::paging::page_of;
use crate::problem::Problem;
use crate::query::ApiQuery;
use crate::refusals::throttled;
use crate::{ApiError, ApiJson};
use tenantbase_core::tenancy::Access;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    use Access::{Public, SignedIn};
    OpenApiRouter::new()
        .routes(guard(SignedIn, routes!(mfa_status)))
        .routes(guard(SignedIn, throttled(routes!(enroll_totp))))
        .routes(guard(SignedIn, throttled(routes!(confirm_totp))))
        .routes(guard(SignedIn, throttled(routes!(remove_totp))))
        .routes(guard(SignedIn, throttled(routes!(regenerate_backup_codes))))
        .routes(guard(SignedIn, throttled(routes!(enable_email_factor))))
        .routes(guard(SignedIn, throttled(routes!(disable_email_factor))))
        .routes(guard(Public, throttled(routes!(verify_mfa))))
        .routes(guard(Public, throttled(routes!(send_mfa_email_code))))
        .routes(guard(SignedIn, routes!(list_trusted_devices)))
        .routes(guard(SignedIn, throttled(routes!(revoke_trusted_device))))
        .routes(guard(SignedIn, throttled(routes!(revoke_trusted_devices))))
}

/// The caller's second factors and how many backup codes are left.
#[utoipa::path(get, path = "/v1/auth/mfa", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "Factors (pending TOTP enrolments too)", body = MfaStatusView)))]
pub(crate) async fn mfa_status(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<MfaStatusView>, ApiError> {
    let status = state.identity.mfa_status(&principal).await?;
    Ok(Json(MfaStatusView {
        factors: status.factors.iter().map(MfaFactorView::from).collect(),
        backup_codes_left: status.backup_codes_left,
    }))
}

/// Start enrolling an authenticator app (RFC 6238: SHA-1, 6 digits, 30 s). Replaces a
/// pending enrolment; active after `POST /v1/auth/mfa/totp/confirm`.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/enroll", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 201, description = "A new secret, pending confirmation", body = TotpEnrolmentView),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An app is already active (`totp_already_enrolled`), or a guest (`mfa_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn enroll_totp(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
) -> Result<(StatusCode, Json<TotpEnrolmentView>), ApiError> {
    let enrolment = state
        .identity
        .enroll_totp(&principal, &client.request)
        .await?;
    Ok((StatusCode::CREATED, Json(enrolment.into())))
}

/// Activate the pending enrolment with a current code; answers the 10 backup codes, once.
#[utoipa::path(post, path = "/v1/auth/mfa/totp/confirm", tag = "auth", security(("bearer" = [])), request_body = TotpCodeBody,
    responses(
        (status = 200, description = "Active; the backup codes, shown this once", body = BackupCodes),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No pending enrolment (`mfa_not_enrolled`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already active (`totp_already_enrolled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a current code of the secret", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn confirm_totp(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiJson(body): ApiJson<TotpCodeBody>,
) -> Result<Json<BackupCodes>, ApiError> {
    let backup_codes = state
        .identity
        .confirm_totp(&principal, &body.code, &client.request)
        .await?;
    Ok(Json(BackupCodes { backup_codes }))
}

/// Remove the authenticator app (and the backup codes, if no other factor remains); the
/// user is emailed.
#[utoipa::path(delete, path = "/v1/auth/mfa/totp", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No app enrolled (`mfa_not_enrolled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn remove_totp(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .remove_totp(&principal, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace the backup codes with 10 new ones; the old ones stop working.
#[utoipa::path(post, path = "/v1/auth/mfa/backup-codes/regenerate", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The new backup codes, shown this once", body = BackupCodes),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active second factor (`mfa_not_enrolled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn regenerate_backup_codes(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
) -> Result<Json<BackupCodes>, ApiError> {
    let backup_codes = state
        .identity
        .regenerate_backup_codes(&principal, &client.request)
        .await?;
    Ok(Json(BackupCodes { backup_codes }))
}

/// Opt in to sign-in codes by email as a second factor (the email must be verified; an
/// account with an authenticator app only where `auth.mfa.email_fallback` allows codes by
/// email). Idempotent.
#[utoipa::path(post, path = "/v1/auth/mfa/email/enable", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Opted in"),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A guest, an unverified email, or an account with an authenticator app where `auth.mfa.email_fallback` is off (`mfa_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn enable_email_factor(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .enable_email_factor(&principal, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Opt out of sign-in codes by email; the user is emailed.
#[utoipa::path(delete, path = "/v1/auth/mfa/email", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Opted out"),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not opted in (`mfa_not_enrolled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn disable_email_factor(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .disable_email_factor(&principal, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The second step of a sign-in: a code by one of the `methods` the first step named.
/// Answers the token pair, as sign-in does.
#[utoipa::path(post, path = "/v1/auth/mfa/verify", tag = "auth", request_body = MfaVerifyBody,
    params(("X-Device-Id" = Option<String>, Header, description = "Required when the sign-in sent one, and for `trust_device`")),
    responses(
        (status = 200, description = "Signed in; `amr` of the session names both factors", body = MfaVerifyResponse),
        (status = 401, description = "Bad, used or expired `mfa_token`, another device, or a password changed or reset since the first step (`invalid_mfa_token`); wrong, used or expired code (`invalid_mfa_code`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A method the account lacks, `trust_device` without a device id, or a bad body", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes on this account (`too_many_attempts`) or requests from this address (`rate_limited`); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify_mfa(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<MfaVerifyBody>,
) -> Result<Json<MfaVerifyResponse>, ApiError> {
    let verified = state
        .identity
        .verify_mfa(
            &body.mfa_token,
            body.method.into(),
            &body.code,
            body.trust_device,
            &client.device,
            &client.request,
        )
        .await?;
    Ok(Json(MfaVerifyResponse {
        tokens: tokens(verified.pair),
        device_token: verified.device_token,
    }))
}

/// Email a sign-in code (6 digits, 10 minutes, single use) for the second step; any
/// earlier sign-in code stops working (a step-up's code does not).
#[utoipa::path(post, path = "/v1/auth/mfa/email/send", tag = "auth", request_body = MfaTokenBody,
    params(("X-Device-Id" = Option<String>, Header, description = "Required when the sign-in sent one")),
    responses(
        (status = 202, description = "Queued"),
        (status = 401, description = "Bad, used or expired `mfa_token` (`invalid_mfa_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "This account gets no codes by email (`mfa_unavailable`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many codes sent (`too_many_attempts`) or requests from this address (`rate_limited`); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn send_mfa_email_code(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<MfaTokenBody>,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .send_mfa_email_code(&body.mfa_token, &client.device, &client.request)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

/// The caller's trusted devices (those skipping the second factor), newest first.
#[utoipa::path(get, path = "/v1/auth/trusted-devices", tag = "auth", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "Unexpired trusted devices", body = Page<TrustedDeviceView>)))]
pub(crate) async fn list_trusted_devices(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<TrustedDeviceView>>, ApiError> {
    let devices = state.identity.trusted_devices(&principal).await?;
    let items = devices.iter().map(TrustedDeviceView::from).collect();
    Ok(Json(page_of(
        "trusted_devices",
        items,
        |d| Reverse((d.created_at, d.id.clone())),
        &query,
    )?))
}

/// Stop trusting a device: its next sign-in asks for the second factor again.
#[utoipa::path(delete, path = "/v1/auth/trusted-devices/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "`tdv_…`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such trusted device of the caller's (`trusted_device_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a trusted device id", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn revoke_trusted_device(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: TrustedDeviceId = super::path_id("id", &id)?;
    state
        .identity
        .revoke_trusted_device(&principal, id, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop trusting every device of the caller's: each asks for the second factor again.
#[utoipa::path(delete, path = "/v1/auth/trusted-devices", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "No device is trusted any more")))]
pub(crate) async fn revoke_trusted_devices(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .revoke_trusted_devices(&principal, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
