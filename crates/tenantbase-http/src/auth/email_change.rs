//! `/v1/auth/email/change`: a signed-in user asks for a new address (recently
//! authenticated), and the link mailed there confirms it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::dto::UserView;
use crate::extract::{Authenticated, ClientMeta};
use crate::problem::Problem;
use crate::{ApiError, ApiJson, AppState};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangeEmailBody {
    /// The new address; the account keeps its current one until the link mailed here is
    /// followed.
    pub email: String,
}

/// An email change waiting for its link.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EmailChangeView {
    /// The address the confirmation link was mailed to.
    pub pending_email: String,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfirmEmailChangeBody {
    /// The `token` of the mailed link.
    pub token: String,
    /// The `email` of the mailed link: the new address, which the token is bound to.
    pub email: String,
}

/// Ask to change the account's email: a confirmation link goes to the new address (a newer
/// request replaces an older one). Needs a recent sign-in.
#[utoipa::path(post, path = "/v1/auth/email/change", tag = "auth", security(("bearer" = [])), request_body = ChangeEmailBody,
    responses(
        (status = 202, description = "The confirmation link is on its way to the new address", body = EmailChangeView),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another account has the address (`email_taken`), or a guest, which has none to change (`no_email`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an email address, or the account's own", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many emails sent for this account (`too_many_attempts`) or requests from this address (`rate_limited`); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn request_email_change(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiJson(body): ApiJson<ChangeEmailBody>,
) -> Result<(StatusCode, Json<EmailChangeView>), ApiError> {
    let pending = state
        .identity
        .request_email_change(&principal, &body.email, &client.request)
        .await?;
    let view = EmailChangeView {
        pending_email: pending.email,
        expires_at: pending.expires_at,
    };
    Ok((StatusCode::ACCEPTED, Json(view)))
}

/// Confirm a new email address with the `token` and `email` of the mailed link: it
/// becomes the account's (verified), and the old address is told.
#[utoipa::path(post, path = "/v1/auth/email/change/confirm", tag = "auth", request_body = ConfirmEmailChangeBody,
    responses(
        (status = 200, description = "Changed", body = UserView),
        (status = 409, description = "Another account took the address meanwhile (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown, used, replaced or expired token, or not the address it was mailed to", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn confirm_email_change(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<ConfirmEmailChangeBody>,
) -> Result<Json<UserView>, ApiError> {
    let user = state
        .identity
        .confirm_email_change(&body.token, &body.email, &client.request)
        .await?;
    Ok(Json(UserView::from(&user)))
}
