//! Deny by default: every route is registered through `guard` with its `Access`, which
//! is written into the OpenAPI operation (`x-access`) and enforced by a layer in front of
//! the handler. On org routes the layer authenticates the bearer credential (access token
//! or API key), authorizes it in the path's org and hands the handler an `OrgCtx`; on
//! account routes it refuses tokens bound to an org. A test walks the whole document and
//! fails on any operation without `x-access`.

use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tenantbase_core::tenancy::files::{FileRefusal, StorageQuota};
use tenantbase_core::tenancy::{Access, Credential, TenancyError};
use tenantbase_domain::OrgId;
use utoipa::openapi::security::SecurityRequirement;
use utoipa_axum::router::UtoipaMethodRouter;

use crate::extract::{Authenticated, OrgCtx, credential};
use crate::operations::operations;
use crate::{ApiError, AppState, FieldError};

/// The OpenAPI extension naming a route's access rule.
pub const ACCESS_EXTENSION: &str = "x-access";

/// Registers `route` with its access rule: documented on every operation, and enforced
/// for org routes (`Member`, `Leaving`, `Permission`) and account routes (`SignedIn`, whose
/// handlers take `Authenticated` or `Bearer`).
pub fn guard(access: Access, route: UtoipaMethodRouter<AppState>) -> UtoipaMethodRouter<AppState> {
    let (schemas, mut paths, method_router) = route;
    for item in paths.paths.values_mut() {
        for operation in operations(item) {
            operation
                .extensions
                .get_or_insert_with(Default::default)
                .insert(ACCESS_EXTENSION.to_owned(), access.label().into());
            if operation.security.is_none() {
                operation.security = Some(security(access));
            }
            crate::refusals::document(operation, access);
        }
    }
    let in_org = |access| {
        axum::middleware::from_fn(move |request: Request, next: Next| {
            enforce(access, request, next)
        })
    };
    // `route_layer`, not `layer`: a method the route lacks gets the 405 (with `Allow`)
    // whoever asks, instead of first passing authentication (401/404/403).
    let method_router = match access {
        // Introspection handlers authenticate through their own extractors.
        Access::Public | Access::Introspect => method_router,
        Access::SignedIn => method_router.route_layer(axum::middleware::from_fn(admit_account)),
        Access::Member | Access::Leaving | Access::Permission(_) => {
            method_router.route_layer(in_org(access))
        }
    };
    (schemas, paths, method_router)
}

/// A public operation says so (`security: []`) rather than leaving it to the reader;
/// every other one needs a bearer credential.
fn security(access: Access) -> Vec<SecurityRequirement> {
    match access {
        Access::Public => Vec::new(),
        _ => vec![SecurityRequirement::new("bearer", Vec::<String>::new())],
    }
}

/// Authenticates, authorizes in the path's `{org_id}`, and passes an `OrgCtx` on.
async fn enforce(access: Access, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    match authorize(access, &mut parts).await {
        Ok(ctx) => {
            parts.extensions.insert(ctx);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(error) => error.into_response(),
    }
}

async fn authorize(access: Access, parts: &mut Parts) -> Result<OrgCtx, ApiError> {
    // A malformed org id names no org: 404, like any org the caller cannot see — but
    // only once the caller is authenticated (401 comes first).
    let org: Option<OrgId> = RawPathParams::from_request_parts(parts, &())
        .await
        .ok()
        .and_then(|params| {
            params
                .iter()
                .find(|(name, _)| *name == "org_id")
                .and_then(|(_, value)| value.parse().ok())
        });
    let state = app_state(parts)?;
    let credential = credential(state, parts).await?;
    let Some(org) = org else {
        // An API key is checked against its own org: a bad one is 401 whatever the path.
        if let Credential::ApiKey(secret) = &credential {
            state.tenancy.api_key_access(secret).await?;
        }
        return Err(TenancyError::NotFound.into());
    };
    let tenancy = &state.tenancy;
    let access = match access {
        Access::Member => tenancy.authorize(&credential, org, None).await?,
        Access::Leaving => tenancy.authorize_leaving(&credential, org).await?,
        Access::Permission(permission) => {
            tenancy
                .authorize(&credential, org, Some(permission))
                .await?
        }
        // Not org rules: `guard` puts no org layer on them.
        Access::Public | Access::SignedIn | Access::Introspect => {
            return Err(TenancyError::NotFound.into());
        }
    };
    Ok(OrgCtx { access, credential })
}

/// Account routes: the token is authenticated here, once, and one bound to an org is
/// refused, whichever extractor the handler takes. The verified principal travels on to
/// `Authenticated` / `Bearer`; an API key passes as it came, for the handler to judge.
async fn admit_account(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let credential = match app_state(&parts) {
        Ok(state) => credential(state, &parts).await,
        Err(error) => Err(error),
    };
    match credential {
        Ok(Credential::User(principal)) if principal.org.is_some() => ApiError::forbidden(
            "org_bound_token",
            "This access token is bound to one org and acts only on that org's routes; \
             use the session's own access token.",
        )
        .into_response(),
        Ok(Credential::User(principal)) => {
            parts.extensions.insert(Authenticated(principal));
            next.run(Request::from_parts(parts, body)).await
        }
        Ok(Credential::ApiKey(_)) => next.run(Request::from_parts(parts, body)).await,
        Err(error) => error.into_response(),
    }
}

/// The state, which the middleware puts into every request for the guards.
fn app_state(parts: &Parts) -> Result<&AppState, ApiError> {
    parts.extensions.get::<AppState>().ok_or_else(|| {
        ApiError::internal(&std::io::Error::other(
            "the app state is not in the request",
        ))
    })
}

/// The size limits share the code `quota_exceeded`; `limit` tells which one was hit.
fn file_refusal(refusal: FileRefusal) -> ApiError {
    use axum::http::StatusCode;
    match refusal {
        FileRefusal::TooLarge { max_bytes } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "quota_exceeded",
            format!("A file may hold at most {max_bytes} bytes."),
        )
        .with_extension("limit", "max_file_bytes".into())
        .with_extension("max_bytes", max_bytes.into()),
        FileRefusal::QuotaExceeded {
            quota,
            quota_bytes,
            used_bytes,
        } => {
            let (limit, whose) = match quota {
                StorageQuota::Org => ("org_quota_bytes", "The org's storage quota"),
                StorageQuota::Creator => (
                    "creator_quota_bytes",
                    "The storage quota of the orgs this org's creator created",
                ),
            };
            ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "quota_exceeded",
                format!(
                    "{whose} of {quota_bytes} bytes would be exceeded; {used_bytes} are in use."
                ),
            )
            .with_extension("limit", limit.into())
            .with_extension("quota_bytes", quota_bytes.into())
            .with_extension("used_bytes", used_bytes.into())
        }
        FileRefusal::TypeMismatch { declared, found } => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type_mismatch",
            format!("The bytes are not {declared}."),
        )
        .with_extension("declared", declared.into())
        .with_extension("detected", found.into()),
        FileRefusal::Interrupted => ApiError::bad_request(
            "upload_interrupted",
            "The upload ended before all of its bytes arrived; nothing was stored.",
        ),
        FileRefusal::StoreUnavailable => ApiError::unavailable(
            "object_store_unavailable",
            "The file store does not answer; retry later.",
        ),
    }
}

impl From<TenancyError> for ApiError {
    fn from(error: TenancyError) -> Self {
        match error {
            TenancyError::Unauthenticated => ApiError::invalid_token(
                "invalid_token",
                "The access token or API key is invalid, expired or revoked.",
            ),
            TenancyError::Forbidden(permission) => ApiError::forbidden(
                "permission_denied",
                format!("This needs the `{permission}` permission in the org."),
            )
            .with_extension("permission", permission.name().into()),
            TenancyError::NotAllowed(code, message) => ApiError::forbidden(code, message),
            TenancyError::MfaRequired => ApiError::forbidden(
                "mfa_required",
                "This org requires a session signed in with a second factor: sign in again \
                 and pass the second step (a trusted device's `device_token` skips it, so \
                 leave that out); an account without a factor enrols one first at \
                 POST /v1/auth/mfa/totp/enroll.",
            )
            .with_extension("enroll", "/v1/auth/mfa/totp/enroll".into()),
            TenancyError::NotFound => ApiError::not_found("not_found", "No such resource."),
            TenancyError::Invalid(problems) => ApiError::validation(
                problems
                    .into_iter()
                    .map(|p| FieldError {
                        field: p.field,
                        message: p.message,
                    })
                    .collect(),
            ),
            TenancyError::Conflict(code, message) => ApiError::conflict(code, message),
            TenancyError::InvitationPending(id) => ApiError::conflict(
                "invitation_pending",
                "An invitation to this address is pending; revoke it to send another.",
            )
            .with_extension("invitation_id", id.to_string().into()),
            TenancyError::RateLimited {
                message,
                retry_after,
            } => ApiError::throttled("rate_limited", message, retry_after),
            TenancyError::File(refusal) => file_refusal(refusal),
            TenancyError::Store(error) => error.into(),
            other @ TenancyError::Internal(_) => ApiError::internal(&other),
        }
    }
}
