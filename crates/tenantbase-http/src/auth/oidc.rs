//! Handlers of sign-in with OpenID providers (`/v1/auth/oidc/…`) and of the caller's
//! linked identities (`/v1/auth/identities…`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tenantbase_core::identity::oidc::{Callback, OidcError};
use tenantbase_domain::id::IdentityId;
use tenantbase_domain::page::{Page, PageQuery};

use super::handlers::first_step_answer;
use super::mfa_dto::LoginResponse;
use super::oidc_dto::{
    AuthorizationUrl, CallbackQuery, ExchangeBody, IdentityView, LinkBody, LinkConfirmBody,
    ProviderView, StartQuery,
};
use crate::extract::{Authenticated, ClientMeta};
use crate::paging::page_of;
use crate::problem::Problem;
use crate::query::ApiQuery;
use crate::{ApiError, ApiJson, AppState, FieldError};

/// Where an existing account links a provider.
const LINK_ROUTE: &str = "/v1/auth/identities/link";

impl From<OidcError> for ApiError {
    fn from(error: OidcError) -> Self {
        let code = error.code();
        let invalid = |field: &str, message: &str| {
            ApiError::validation(vec![FieldError {
                field: field.to_owned(),
                message: message.to_owned(),
            }])
        };
        let field_errors = |fields: Vec<(&str, String)>| {
            let errors = fields.into_iter().map(|(field, message)| FieldError {
                field: field.to_owned(),
                message,
            });
            ApiError::validation(errors.collect())
        };
        match error {
            OidcError::UnknownProvider => {
                ApiError::not_found(code, "No provider of this name is configured.")
            }
            OidcError::Invalid(fields) => field_errors(fields),
            OidcError::InvalidState => invalid("state", "is unknown, used or expired"),
            OidcError::InvalidLoginCode => invalid("login_code", "is unknown, used or expired"),
            OidcError::InvalidLinkCode => invalid(
                "link_code",
                "is unknown, used or expired, or was not issued to this session",
            ),
            OidcError::ProviderDenied => {
                ApiError::unauthorized(code, "The provider did not sign the user in.")
            }
            OidcError::CodeRejected => ApiError::unauthorized(
                code,
                "The provider refused the authorization code (or its PKCE verifier).",
            ),
            OidcError::InvalidIdToken(why) => {
                ApiError::unauthorized(code, format!("The provider's ID token was refused: {why}."))
            }
            OidcError::ProviderUnavailable(why) => {
                tracing::warn!(reason = %why, "an OpenID provider failed");
                ApiError::new(
                    StatusCode::BAD_GATEWAY,
                    code,
                    "The provider could not be reached or answered nonsense; retry later.",
                )
            }
            OidcError::EmailNotVerified => ApiError::forbidden(
                code,
                "The provider did not vouch for an email address, so no account was created \
                 or linked. Sign in another way and link the provider.",
            ),
            OidcError::AccountExistsLinkRequired => ApiError::conflict(
                code,
                "An account with this email exists. Sign in to it and link the provider \
                 with POST /v1/auth/identities/link.",
            )
            .with_extension("link_route", LINK_ROUTE.into()),
            OidcError::IdentityLinkedElsewhere => {
                ApiError::conflict(code, "This provider identity is linked to another account.")
            }
            OidcError::IdentityNotFound => ApiError::not_found(code, "No such identity."),
            OidcError::LastSignInMethod => ApiError::conflict(
                code,
                "This is the account's last way to sign in; add a password, a passkey or another \
                 identity first.",
            ),
            OidcError::Identity(error) => error.into(),
        }
    }
}

/// A 302 to `location`, never cached: it carries a one-time state or code.
fn found(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// The configured OpenID providers, for the app's sign-in buttons.
#[utoipa::path(get, path = "/v1/auth/oidc/providers", tag = "auth",
    params(PageQuery),
    responses((status = 200, description = "Providers, by name", body = Page<ProviderView>)))]
pub(crate) async fn list_providers(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<ProviderView>>, ApiError> {
    let items = state
        .oidc
        .provider_names()
        .into_iter()
        .map(|name| ProviderView {
            name: name.to_owned(),
        })
        .collect();
    Ok(Json(page_of(
        "providers",
        items,
        |p| p.name.clone(),
        &query,
    )?))
}

/// Sign in with an OpenID provider: sends the browser to the provider (authorization
/// code flow with PKCE). The flow ends at `redirect_uri` with a `login_code`.
#[utoipa::path(get, path = "/v1/auth/oidc/{provider}/start", tag = "auth",
    params(("provider" = String, Path, description = "A configured provider's name"), StartQuery),
    responses(
        (status = 302, description = "To the provider's authorization endpoint", headers(("Location" = String))),
        (status = 404, description = "No such provider (`provider_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`redirect_uri` is not one of the provider's, or `code_challenge` is not an S256 challenge (or is missing where the provider requires it)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider cannot be reached (`provider_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn start(
    State(state): State<AppState>,
    // Starting writes a flow row: it spends the per-IP auth budget.
    _client: ClientMeta,
    Path(provider): Path<String>,
    query: Result<ApiQuery<StartQuery>, ApiError>,
) -> Result<Response, ApiError> {
    state.oidc.known_provider(&provider)?;
    let ApiQuery(query) = query?;
    let url = state
        .oidc
        .start_sign_in(
            &provider,
            &query.redirect_uri,
            query.code_challenge.as_deref(),
        )
        .await?;
    Ok(found(url.as_str()))
}

/// Where the provider sends the browser back. Verifies the ID token (signature, `iss`,
/// `aud`, `exp`, `nonce`), then signs in (a known identity; or a new account when the
/// provider vouches for an email no account has) or, for a flow started by
/// `POST /v1/auth/identities/link`, keeps the identity for confirmation (it links
/// nothing), and sends the browser to the flow's redirect URI with `login_code` (exchange
/// it at `POST /v1/auth/oidc/exchange`) or `link_code` (confirm it at
/// `POST /v1/auth/identities/link/confirm`).
#[utoipa::path(get, path = "/v1/auth/oidc/{provider}/callback", tag = "auth",
    params(("provider" = String, Path, description = "A configured provider's name"), CallbackQuery),
    responses(
        (status = 302, description = "To the flow's redirect URI, with `login_code` or `link_code`", headers(("Location" = String))),
        (status = 401, description = "The provider refused (`provider_denied`), rejected the code or its PKCE verifier (`code_rejected`), or sent an ID token that fails verification (`invalid_id_token`)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No verified email from the provider (`email_not_verified`): nothing was created", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such provider (`provider_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An account has this email (`account_exists_link_required`, names `link_route`), or the identity is another account's (`identity_linked_elsewhere`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown, used or expired `state`, or no `code` (both named when both are wrong); a parameter given twice", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider cannot be reached (`provider_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn callback(
    State(state): State<AppState>,
    client: ClientMeta,
    Path(provider): Path<String>,
    query: Result<ApiQuery<CallbackQuery>, ApiError>,
) -> Result<Response, ApiError> {
    state.oidc.known_provider(&provider)?;
    let ApiQuery(query) = query?;
    let callback = Callback {
        code: query.code,
        state: query.state,
        error: query.error,
    };
    let url = state
        .oidc
        .finish(&provider, callback, &client.request)
        .await?;
    Ok(found(url.as_str()))
}

/// Exchange the one-time `login_code` of a finished sign-in: it ends like the first step
/// of `POST /v1/auth/login`. A token pair (amr `fed`); or, for an account with an active
/// second factor on a device it has not trusted, `{mfa_required: true, mfa_token,
/// methods}` and no session: the second step is `POST /v1/auth/mfa/verify` or the
/// passkey routes, and its session's amr is `fed`, the factor's, and `mfa`. The code is
/// used up either way.
#[utoipa::path(post, path = "/v1/auth/oidc/exchange", tag = "auth", request_body = ExchangeBody,
    params(("X-Device-Id" = Option<String>, Header, description = "A stable id of the client's device, at most 128 visible ASCII characters (a longer one, or one not text, is a 422): binds the session, the `mfa_token` and trusted devices to it")),
    responses(
        (status = 200, description = "Signed in (a token pair), or a second factor is due (`mfa_required`)", body = LoginResponse),
        (status = 422, description = "Unknown, used or expired `login_code` (or its identity was unlinked since), or a `code_verifier` that does not match the start's `code_challenge`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account's second factor cannot answer now (`mfa_unavailable`: emailed codes need a verified address)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn exchange(
    State(state): State<AppState>,
    client: ClientMeta,
    ApiJson(body): ApiJson<ExchangeBody>,
) -> Result<Json<LoginResponse>, ApiError> {
    let sign_in = state
        .oidc
        .exchange_login_code(
            &body.login_code,
            body.code_verifier.as_deref(),
            &client.device,
            body.device_token.as_deref(),
            &client.request,
        )
        .await?;
    Ok(Json(first_step_answer(sign_in)))
}

/// The caller's identities at OpenID providers.
#[utoipa::path(get, path = "/v1/auth/identities", tag = "auth", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, description = "Linked identities, oldest first", body = Page<IdentityView>)))]
pub(crate) async fn list_identities(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<IdentityView>>, ApiError> {
    let identities = state.oidc.identities(&principal).await?;
    let items = identities.iter().map(IdentityView::from).collect();
    Ok(Json(page_of(
        "identities",
        items,
        |i| (i.created_at, i.id.clone()),
        &query,
    )?))
}

/// Start linking a provider to the signed-in account: send the browser to the returned
/// URL; the callback returns to `redirect_uri` with a `link_code`, which links nothing
/// until this same session confirms it at `POST /v1/auth/identities/link/confirm`.
#[utoipa::path(post, path = "/v1/auth/identities/link", tag = "auth", security(("bearer" = [])), request_body = LinkBody,
    responses(
        (status = 200, description = "The provider's authorization URL", body = AuthorizationUrl),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown `provider`, or a `redirect_uri` not among its", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "The provider cannot be reached (`provider_unavailable`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn link_identity(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    // Writes a flow row: it spends the per-IP auth budget.
    _client: ClientMeta,
    ApiJson(body): ApiJson<LinkBody>,
) -> Result<Json<AuthorizationUrl>, ApiError> {
    let url = state
        .oidc
        .start_link(&principal, &body.provider, &body.redirect_uri)
        .await?;
    Ok(Json(AuthorizationUrl {
        authorization_url: url.into(),
    }))
}

/// Confirm a link: links the identity the linking flow's `link_code` stands for to the
/// caller — only with the session that started the flow, once, within 5 minutes. Any
/// attempt uses the code up, and every refusal of it is the same 422 (never saying
/// whether the code was unknown, used, expired or another session's), so a code lured
/// into someone else's session cannot link their provider identity to your account.
#[utoipa::path(post, path = "/v1/auth/identities/link/confirm", tag = "auth", security(("bearer" = [])), request_body = LinkConfirmBody,
    responses(
        (status = 201, description = "Linked (or linked already): the identity", body = IdentityView),
        (status = 409, description = "The identity is another account's (`identity_linked_elsewhere`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`link_code` unknown, used, expired, or not this session's (`validation_failed`, field `link_code`)", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn confirm_link(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    ApiJson(body): ApiJson<LinkConfirmBody>,
) -> Result<(StatusCode, Json<IdentityView>), ApiError> {
    let identity = state
        .oidc
        .confirm_link(&principal, &body.link_code, &client.request)
        .await?;
    Ok((StatusCode::CREATED, Json(IdentityView::from(&identity))))
}

/// Unlink one of the caller's identities — never the account's last way to sign in. Every
/// live session opened by signing in through the identity ends at once with it, the
/// caller's own included when it is one of them (its tokens then answer 401); sessions
/// opened another way are kept.
#[utoipa::path(delete, path = "/v1/auth/identities/{identity_id}", tag = "auth", security(("bearer" = [])),
    params(("identity_id" = String, Path, description = "`idn_…`")),
    responses(
        (status = 204, description = "Unlinked; the sessions opened through the identity are revoked"),
        (status = 401, description = "The sign-in is older than `auth.step_up_minutes` (`reauthentication_required`)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such identity of the caller's (`identity_not_found`)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account's last way to sign in (`last_sign_in_method`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an identity id", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn unlink_identity(
    State(state): State<AppState>,
    Authenticated(principal): Authenticated,
    client: ClientMeta,
    Path(identity_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id: IdentityId = super::path_id("identity_id", &identity_id)?;
    state.oidc.unlink(&principal, id, &client.request).await?;
    Ok(StatusCode::NO_CONTENT)
}
