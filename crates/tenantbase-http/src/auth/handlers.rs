//! Handlers of the auth routes: parse, call one `Identity` use case, shape the answer.

use std::cmp::Reverse;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use tenantbase_core::identity::TokenPair;
use tenantbase_core::identity::mfa::SignIn;
use tenantbase_core::tenancy::Credential;
use tenantbase_domain::id::SessionId;
use tenantbase_domain::page::{Page, PageQuery};

use super::dto::{
    ChangePasswordBody, ForgotBody, LoginBody, MeResponse, RefreshBody, RegisterBody, ResetBody,
    RevokeAllQuery, RevokedCount, SessionView, SignInBody, TokenBody, TokenResponse, UserView,
};
use super::mfa_dto::{LoginResponse, MfaRequiredResponse};
use crate::extract::{Authenticated, Bearer, ClientMeta};
use crate::paging::page_of;
use crate::problem::Problem;
use crate::query::ApiQuery;
use crate::{ApiError, ApiJson, AppState};

pub(super) fn tokens(pair: TokenPair) -> TokenResponse {
    TokenResponse {
        user: UserView::from(&pair.user),
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: "Bearer",
        expires_in: pair.expires_in,
    }
}

/// The 200 of a first step: a token pair, or the second factor due.
pub(super) fn first_step_answer(sign_in: SignIn) -> LoginResponse {
    match sign_in {
        SignIn::Session(pair) => LoginResponse::Session(tokens(*pair)),
        SignIn::SecondFactorDue(due) => LoginResponse::SecondFactor(MfaRequiredResponse::from(due)),
    }
}

/// Create an account and sign in.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterBody,
    responses(
        (status = 201, description = "Account created; a verification email is queued", body = TokenResponse),
        (status = 409, description = "Email taken (`email_taken`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid email or password", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many password hashes waiting (`overloaded`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn register(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let pair = state
        .identity
        .register(
            &body.email,
            &body.password,
            body.display_name.as_deref(),
            &client.device,
            &client.request,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(tokens(pair))))
}

/// Sign in with email and password. An account with a second factor (on a device it has
/// not trusted) gets `{mfa_required: true, mfa_token, methods}` and no session: the
/// second step is `POST /v1/auth/mfa/verify`.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = SignInBody,
    params(("X-Device-Id" = Option<String>, Header, description = "A stable id of the client's device, at most 128 visible ASCII characters (a longer one, or one not text, is a 422): binds the session, the `mfa_token` and trusted devices to it")),
    responses(
        (status = 200, description = "Signed in (a token pair), or a second factor is due (`mfa_required`)", body = LoginResponse),
        (status = 401, description = "Wrong email or password (`invalid_credentials`), indistinguishable", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The password was right, but the account's second factor cannot answer now (`mfa_unavailable`: emailed codes need a verified address)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed sign-ins (`too_many_attempts`) or requests from this address (`rate_limited`); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many password hashes waiting (`overloaded`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn login(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<SignInBody>,
) -> Result<Json<LoginResponse>, ApiError> {
    let sign_in = state
        .identity
        .login(
            &body.email,
            &body.password,
            &client.device,
            body.device_token.as_deref(),
            &client.request,
        )
        .await?;
    Ok(Json(first_step_answer(sign_in)))
}

/// Sign in as a guest (no email, no personal data); the access token lives 1 h.
#[utoipa::path(post, path = "/v1/auth/guest", tag = "auth",
    responses((status = 201, description = "Guest account created", body = TokenResponse)))]
pub(crate) async fn guest(
    State(state): State<AppState>,
    client: ClientMeta,
) -> Result<(StatusCode, Json<TokenResponse>), ApiError> {
    let pair = state
        .identity
        .guest(&client.device, &client.request)
        .await?;
    Ok((StatusCode::CREATED, Json(tokens(pair))))
}

/// Exchange a refresh token for a new token pair (the old refresh token stops working).
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "auth", request_body = RefreshBody,
    params(("X-Device-Id" = Option<String>, Header, description = "The device id given at sign-in, if any")),
    responses(
        (status = 200, description = "New pair", body = TokenResponse),
        (status = 401, description = "Unknown, used or expired token; reuse revokes the session", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn refresh(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<RefreshBody>,
) -> Result<Json<TokenResponse>, ApiError> {
    let pair = state
        .identity
        .refresh(
            &body.refresh_token,
            client.device.id.as_deref(),
            &client.request,
        )
        .await?;
    Ok(Json(tokens(pair)))
}

/// Sign out: revokes the current session at once.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out")))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
) -> Result<StatusCode, ApiError> {
    state.identity.logout(&principal, &client.request).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How many memberships `GET /v1/auth/me` shows.
const ME_MEMBERSHIPS: u32 = 100;

/// Who am I.
#[utoipa::path(get, path = "/v1/auth/me", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user and session", body = MeResponse),
        (status = 403, description = "An API key, which is no user (`user_required`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn me(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
) -> Result<Json<MeResponse>, ApiError> {
    let user = state.store.user_by_id(principal.user_id).await?;
    let profile = state.tenancy.profile(principal.user_id).await?;
    let memberships = state
        .tenancy
        .memberships_shown(&principal, ME_MEMBERSHIPS)
        .await?;
    Ok(Json(MeResponse {
        profile: crate::dto::ProfileView::new(principal.user_id, profile),
        email_verified: user.email_verified,
        user: UserView::from(&user),
        session_id: principal.session_id.to_string(),
        auth_methods: principal.amr,
        memberships: memberships.into_iter().map(Into::into).collect(),
    }))
}

/// The caller's live sessions, newest first.
#[utoipa::path(get, path = "/v1/auth/sessions", tag = "auth", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "Sessions", body = Page<SessionView>)))]
pub(crate) async fn list_sessions(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<SessionView>>, ApiError> {
    let sessions = state.identity.sessions(&principal).await?;
    let items = sessions
        .iter()
        .map(|s| SessionView::new(s, s.id == principal.session_id))
        .collect();
    Ok(Json(page_of(
        "sessions",
        items,
        |s| Reverse((s.created_at, s.id.clone())),
        &query,
    )?))
}

/// Revoke one of the caller's sessions.
#[utoipa::path(delete, path = "/v1/auth/sessions/{id}", tag = "auth", security(("bearer" = [])),
    params(("id" = String, Path, description = "`ses_…`")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 404, description = "No such session of the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a session id", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn revoke_session(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: SessionId = super::path_id("id", &id)?;
    state
        .identity
        .revoke_session(&principal, id, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revoke all the caller's sessions but the current one (unless `include_current=true`).
#[utoipa::path(post, path = "/v1/auth/sessions/revoke-all", tag = "auth", security(("bearer" = [])),
    params(RevokeAllQuery),
    responses((status = 200, description = "How many were revoked", body = RevokedCount)))]
pub(crate) async fn revoke_all_sessions(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiQuery(query): ApiQuery<RevokeAllQuery>,
) -> Result<Json<RevokedCount>, ApiError> {
    let revoked = state
        .identity
        .revoke_all(&principal, query.include_current, &client.request)
        .await?;
    Ok(Json(RevokedCount { revoked }))
}

/// Public keys that verify access tokens (RFC 7517).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "auth",
    responses((status = 200, description = "JSON Web Key Set", body = Object)))]
pub(crate) async fn jwks(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.identity.keyring().jwks())
}

/// Forward-auth for gateways (nginx `auth_request`, Traefik ForwardAuth, Envoy): 204 with
/// the caller's identity in headers when the bearer token or API key is valid, else 401.
#[utoipa::path(get, path = "/v1/auth/verify", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Valid token or API key", headers(
            ("X-Auth-User-Id" = String, description = "`usr_…` (tokens)"),
            ("X-Auth-Session-Id" = String, description = "`ses_…` (tokens)"),
            ("X-Auth-Org-Id" = String, description = "`org_…`, when the token is bound to an org, and always for API keys"),
            ("X-Auth-Api-Key-Id" = String, description = "`key_…` (API keys)"),
        )),
        (status = 401, description = "Missing, invalid, expired or revoked token or key", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify(
    State(state): State<AppState>,
    Bearer(credential): Bearer,
) -> Result<impl IntoResponse, ApiError> {
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| -> Result<(), ApiError> {
        let value = HeaderValue::from_str(value).map_err(|e| ApiError::internal(&e))?;
        headers.insert(name, value);
        Ok(())
    };
    match credential {
        Credential::User(principal) => {
            set("x-auth-user-id", &principal.user_id.to_string())?;
            set("x-auth-session-id", &principal.session_id.to_string())?;
            if let Some(org) = principal.org {
                set("x-auth-org-id", &org.to_string())?;
            }
        }
        Credential::ApiKey(secret) => {
            let access = state.tenancy.api_key_access(&secret).await?;
            set("x-auth-org-id", &access.org_id().to_string())?;
            set("x-auth-api-key-id", access.actor().id().unwrap_or_default())?;
        }
    }
    Ok((StatusCode::NO_CONTENT, headers))
}

/// Confirm the email address with the token from the verification email.
#[utoipa::path(post, path = "/v1/auth/email/verify", tag = "auth", request_body = TokenBody,
    responses(
        (status = 204, description = "Verified"),
        (status = 422, description = "Unknown, used, replaced or expired token", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn verify_email(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<TokenBody>,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .verify_email(&body.token, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a new verification email (the previous link stops working).
#[utoipa::path(post, path = "/v1/auth/email/resend", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 202, description = "Queued"),
        (status = 409, description = "Already verified (`already_verified`), or a guest, which has no address (`no_email`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many verification emails sent to this account (`too_many_attempts`); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn resend_verification(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    // Sends mail: spends the per-IP auth budget like the other actions.
    _client: ClientMeta,
) -> Result<StatusCode, ApiError> {
    state.identity.resend_verification(&principal).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Ask for a password-reset email. Always 202, whether or not the account exists; past a
/// few requests for one account, further ones send nothing for a while.
#[utoipa::path(post, path = "/v1/auth/password/forgot", tag = "auth", request_body = ForgotBody,
    responses((status = 202, description = "If the account exists (and has not been sent too many), an email is on its way")))]
pub(crate) async fn forgot_password(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<ForgotBody>,
) -> StatusCode {
    // The answer must not depend on the account: the work runs after it, whatever it finds.
    let identity = state.identity.clone();
    tokio::spawn(async move {
        if let Err(error) = identity.forgot_password(&body.email, &client.request).await {
            tracing::warn!(%error, "password reset request failed");
        }
    });
    StatusCode::ACCEPTED
}

/// Set a new password with the token from the reset email; every session ends.
#[utoipa::path(post, path = "/v1/auth/password/reset", tag = "auth", request_body = ResetBody,
    responses(
        (status = 204, description = "Password replaced; sign in again"),
        (status = 422, description = "Bad token or password", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many password hashes waiting (`overloaded`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn reset_password(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<ResetBody>,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .reset_password(&body.token, &body.new_password, &client.request)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Change the password; every other session of the user ends.
#[utoipa::path(post, path = "/v1/auth/password/change", tag = "auth", security(("bearer" = [])), request_body = ChangePasswordBody,
    responses(
        (status = 204, description = "Changed"),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong current password or a weak new one", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong current passwords (`too_many_attempts`) or requests from this address (`rate_limited`); `Retry-After` says when to retry", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many password hashes waiting (`overloaded`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiJson(body): ApiJson<ChangePasswordBody>,
) -> Result<StatusCode, ApiError> {
    state
        .identity
        .change_password(
            &principal,
            &body.current_password,
            &body.new_password,
            &client.request,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn the signed-in guest into a full account, keeping its id and data.
#[utoipa::path(post, path = "/v1/auth/guest/upgrade", tag = "auth", security(("bearer" = [])), request_body = LoginBody,
    responses(
        (status = 200, description = "Upgraded; a verification email is queued", body = UserView),
        (status = 409, description = "Email taken (`email_taken`) or not a guest (`not_a_guest`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many password hashes waiting (`overloaded`); see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn upgrade_guest(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Json<UserView>, ApiError> {
    let user = state
        .identity
        .upgrade_guest(&principal, &body.email, &body.password, &client.request)
        .await?;
    Ok(Json(UserView::from(&user)))
}
