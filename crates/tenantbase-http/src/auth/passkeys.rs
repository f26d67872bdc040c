//! `/v1/auth/passkeys/…`: adding passkeys while signed in (a WebAuthn registration
//! ceremony), listing, renaming and removing them, and signing in with one without naming
//! an account (a discoverable-credential authentication ceremony). The ceremonies' JSON
//! is WebAuthn's own, as browsers' `PublicKeyCredential.parse…OptionsFromJSON()` and
//! `toJSON()` speak it. Without `auth.webauthn` configured every route answers 404
//! `passkeys_disabled`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_domain::id::PasskeyId;
use tenantbase_domain::model::PasskeyInfo;
use tenantbase_domain::page::{Page, PageQuery};
use utoipa::ToSchema;

use super::dto::TokenResponse;
use super::handlers::tokens;
use super::mfa_dto::MfaTokenBody;
use crate::extract::{Authenticated, ClientMeta};
use crate::paging::page_of;
use crate::problem::Problem;
use crate::query::ApiQuery;
use crate::{ApiError, ApiJson, AppState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterFinishBody {
    /// What to call the passkey, e.g. the device it lives on: 1–64 characters, no control
    /// or invisible formatting characters (bidirectional marks, zero-width spaces).
    pub name: String,
    /// The `PublicKeyCredential` that `navigator.credentials.create()` returned, as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RenameBody {
    /// 1–64 characters, no control or invisible formatting characters.
    pub name: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PasskeyAnswerBody {
    /// The `PublicKeyCredential` that `navigator.credentials.get()` returned, as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct MfaPasskeyFinishBody {
    /// From the first step of the sign-in.
    pub mfa_token: String,
    /// The `PublicKeyCredential` that `navigator.credentials.get()` returned, as JSON.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PasskeyView {
    /// `pk_…`
    pub id: String,
    pub name: String,
    /// The authenticator may copy the passkey to other devices (a synced passkey).
    pub backup_eligible: bool,
    /// It was copied when last used.
    pub backed_up: bool,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<PasskeyInfo> for PasskeyView {
    fn from(info: PasskeyInfo) -> Self {
        Self {
            id: info.id.to_string(),
            name: info.name,
            backup_eligible: info.backup_eligible,
            backed_up: info.backed_up,
            created_at: info.created_at,
            last_used_at: info.last_used_at,
        }
    }
}

/// Start adding a passkey: WebAuthn creation options, `{"publicKey": {…}}`, for
/// `navigator.credentials.create()`. The challenge can be answered once, within 5 minutes.
#[utoipa::path(post, path = "/v1/auth/passkeys/register/start", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Creation options (a discoverable credential with user verification is required)", body = Object),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Guests cannot add passkeys (`guest_account`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start_registration(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    _client: ClientMeta,
) -> Result<Json<serde_json::Value>, ApiError> {
    let options = state
        .identity
        .start_passkey_registration(&principal)
        .await?;
    Ok(Json(options))
}

/// Finish adding a passkey with the authenticator's answer; the account's email is told.
#[utoipa::path(post, path = "/v1/auth/passkeys/register/finish", tag = "auth", security(("bearer" = [])),
    request_body = RegisterFinishBody,
    responses(
        (status = 201, description = "The passkey", body = PasskeyView),
        (status = 404, description = "Passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The credential is registered already (`passkey_exists`), or the caller is a guest (`guest_account`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad name, or a credential that is malformed, answers no pending registration of the caller's (unknown, used or expired challenge) or fails verification (origin, signature, user verification)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn finish_registration(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiJson(body): ApiJson<RegisterFinishBody>,
) -> Result<(StatusCode, Json<PasskeyView>), ApiError> {
    let passkey = state
        .identity
        .finish_passkey_registration(&principal, &body.name, body.credential, &client.request)
        .await?;
    Ok((StatusCode::CREATED, Json(passkey.into())))
}

/// The caller's passkeys, oldest first.
#[utoipa::path(get, path = "/v1/auth/passkeys", tag = "auth", security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "Passkeys", body = Page<PasskeyView>),
        (status = 404, description = "Passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn list_passkeys(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<PasskeyView>>, ApiError> {
    let passkeys = state.identity.passkeys(&principal).await?;
    let items = passkeys.into_iter().map(Into::into).collect();
    Ok(Json(page_of(
        "passkeys",
        items,
        |p: &PasskeyView| (p.created_at, p.id.clone()),
        &query,
    )?))
}

/// Rename one of the caller's passkeys.
#[utoipa::path(patch, path = "/v1/auth/passkeys/{passkey_id}", tag = "auth", security(("bearer" = [])),
    params(("passkey_id" = String, Path, description = "`pk_…`")),
    request_body = RenameBody,
    responses(
        (status = 200, description = "Renamed", body = PasskeyView),
        (status = 404, description = "No such passkey of the caller's (`passkey_not_found`), or passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a passkey id, or a bad name", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn rename_passkey(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<RenameBody>,
) -> Result<Json<PasskeyView>, ApiError> {
    let passkey = state
        .identity
        .rename_passkey(&principal, passkey_id(&id)?, &body.name, &client.request)
        .await?;
    Ok(Json(passkey.into()))
}

/// Remove one of the caller's passkeys: it can no longer sign in.
///
/// Every live session signed in with it — alone, or as a sign-in's second step — ends at
/// once with it, the caller's own included when it is one of them (its tokens then answer
/// 401); sessions opened another way are kept.
#[utoipa::path(delete, path = "/v1/auth/passkeys/{passkey_id}", tag = "auth", security(("bearer" = [])),
    params(("passkey_id" = String, Path, description = "`pk_…`")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account's last way to sign in (`last_sign_in_method`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such passkey of the caller's (`passkey_not_found`), or passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a passkey id", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn remove_passkey(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .remove_passkey(&principal, passkey_id(&id)?, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Start a passkey sign-in naming no account: WebAuthn request options,
/// `{"publicKey": {…}, "mediation": "conditional"}`, with no `allowCredentials`. The
/// challenge can be answered once, within 5 minutes.
#[utoipa::path(post, path = "/v1/auth/passkeys/login/start", tag = "auth",
    responses(
        (status = 200, description = "Request options (user verification required)", body = Object),
        (status = 404, description = "Passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start_login(
    State(state): State<AppState>,
    _client: ClientMeta,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.identity.start_passkey_sign_in().await?))
}

/// Finish a passkey sign-in: the same token pair as `/v1/auth/login`; the session's
/// `amr` is `["hwk", "mfa"]` for a device-bound passkey, `["swk", "mfa"]` for a synced one.
#[utoipa::path(post, path = "/v1/auth/passkeys/login/finish", tag = "auth",
    request_body = PasskeyAnswerBody,
    params(("X-Device-Id" = Option<String>, Header, description = "A stable id of the client's device; refresh tokens are bound to it")),
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Refused (`passkey_refused`): no pending challenge (unknown, used or expired), unknown or removed passkey, wrong origin, bad signature, or a signature counter that did not increase (a cloned authenticator)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The credential is not a WebAuthn authentication response", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn finish_login(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<PasskeyAnswerBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = state
        .identity
        .finish_passkey_sign_in(body.credential, &client.device, &client.request)
        .await?;
    Ok(Json(tokens(pair)))
}

/// The second step of a sign-in with a passkey: WebAuthn request options,
/// `{"publicKey": {…}}`, listing the passkeys of the account the `mfa_token` belongs to.
#[utoipa::path(post, path = "/v1/auth/mfa/passkey/start", tag = "auth",
    request_body = MfaTokenBody,
    params(("X-Device-Id" = Option<String>, Header, description = "Required when the sign-in sent one")),
    responses(
        (status = 200, description = "Request options (user verification required)", body = Object),
        (status = 401, description = "Bad, used or expired `mfa_token`, or another device (`invalid_mfa_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "The account has no passkey (`mfa_not_enrolled`), or passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start_second_factor(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<MfaTokenBody>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let options = state
        .identity
        .start_passkey_second_factor(&body.mfa_token, &client.device)
        .await?;
    Ok(Json(options))
}

/// Finish the second step with the passkey's answer: the token pair; the session's `amr`
/// is the first step's, then `hwk` or `swk`, then `mfa`.
#[utoipa::path(post, path = "/v1/auth/mfa/passkey/finish", tag = "auth",
    request_body = MfaPasskeyFinishBody,
    params(("X-Device-Id" = Option<String>, Header, description = "Required when the sign-in sent one")),
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Bad, used or expired `mfa_token`, another device, or a password changed or reset since the first step (`invalid_mfa_token`); the answer refused (`passkey_refused`): no pending challenge, another account's passkey, wrong origin, bad signature, or a counter that did not increase", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Passkeys are not enabled (`passkeys_disabled`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The credential is not a WebAuthn authentication response", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn finish_second_factor(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<MfaPasskeyFinishBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = state
        .identity
        .finish_passkey_second_factor(
            &body.mfa_token,
            body.credential,
            &client.device,
            &client.request,
        )
        .await?;
    Ok(Json(tokens(pair)))
}

fn passkey_id(raw: &str) -> Result<PasskeyId, ApiError> {
    super::path_id("passkey_id", raw)
}
