//! `/v1/auth/…`: sign-up, sign-in (with a password, a passkey or an OpenID provider),
//! guests, token refresh, sessions, second factors, passkeys, linked identities, and the
//! JWKS.

mod dto;
mod email_change;
mod errors;
mod handlers;
mod mfa;
mod mfa_dto;
mod oidc;
mod oidc_dto;
mod passkeys;
pub(crate) mod step_up;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;
use crate::access::guard;
use crate::refusals::throttled;
use tenantbase_core::tenancy::Access;

/// An id from an account route's path (`{id}`, `{passkey_id}`, …): one that does not parse
/// is a field error naming the path parameter.
fn path_id<T>(field: &str, text: &str) -> Result<T, crate::ApiError>
where
    T: std::str::FromStr<Err = tenantbase_domain::ParseIdError>,
{
    text.parse().map_err(|e: tenantbase_domain::ParseIdError| {
        crate::ApiError::validation(vec![crate::FieldError {
            field: field.to_owned(),
            message: e.to_string(),
        }])
    })
}

/// The routes whose handlers take `ClientMeta` spend the client address's request budget:
/// `throttled` documents their 429.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    use Access::{Introspect, Public, SignedIn};
    OpenApiRouter::new()
        .routes(guard(Public, throttled(routes!(handlers::register))))
        .routes(guard(Public, throttled(routes!(handlers::login))))
        .routes(guard(Public, throttled(routes!(handlers::guest))))
        .routes(guard(Public, throttled(routes!(handlers::refresh))))
        .routes(guard(SignedIn, throttled(routes!(handlers::logout))))
        .routes(guard(Introspect, routes!(handlers::me)))
        .routes(guard(SignedIn, routes!(handlers::list_sessions)))
        .routes(guard(
            SignedIn,
            throttled(routes!(handlers::revoke_session)),
        ))
        .routes(guard(
            SignedIn,
            throttled(routes!(handlers::revoke_all_sessions)),
        ))
        .routes(guard(Public, throttled(routes!(handlers::verify_email))))
        .routes(guard(
            SignedIn,
            throttled(routes!(handlers::resend_verification)),
        ))
        .routes(guard(
            SignedIn,
            throttled(routes!(email_change::request_email_change)),
        ))
        .routes(guard(
            Public,
            throttled(routes!(email_change::confirm_email_change)),
        ))
        .routes(guard(Public, throttled(routes!(handlers::forgot_password))))
        .routes(guard(Public, throttled(routes!(handlers::reset_password))))
        .routes(guard(
            SignedIn,
            throttled(routes!(handlers::change_password)),
        ))
        .routes(guard(SignedIn, throttled(routes!(handlers::upgrade_guest))))
        .routes(guard(SignedIn, throttled(routes!(step_up::reauthenticate))))
        .routes(guard(
            SignedIn,
            throttled(routes!(step_up::send_step_up_email_code)),
        ))
        .routes(guard(
            SignedIn,
            throttled(routes!(step_up::start_passkey_step_up)),
        ))
        .routes(guard(
            SignedIn,
            throttled(routes!(step_up::finish_passkey_step_up)),
        ))
        .routes(guard(Introspect, routes!(handlers::verify)))
        .routes(guard(Public, routes!(handlers::jwks)))
        .merge(mfa::routes())
        .routes(guard(Public, routes!(oidc::list_providers)))
        .routes(guard(Public, throttled(routes!(oidc::start))))
        .routes(guard(Public, throttled(routes!(oidc::callback))))
        .routes(guard(Public, throttled(routes!(oidc::exchange))))
        .routes(guard(SignedIn, routes!(oidc::list_identities)))
        .routes(guard(SignedIn, throttled(routes!(oidc::link_identity))))
        .routes(guard(SignedIn, throttled(routes!(oidc::confirm_link))))
        .routes(guard(SignedIn, throttled(routes!(oidc::unlink_identity))))
        .merge(passkey_routes())
}

/// `/v1/auth/passkeys/…` and `/v1/auth/mfa/passkey/…`.
fn passkey_routes() -> OpenApiRouter<AppState> {
    use Access::{Public, SignedIn};
    OpenApiRouter::new()
        .routes(guard(
            SignedIn,
            throttled(routes!(passkeys::start_registration)),
        ))
        .routes(guard(
            SignedIn,
            throttled(routes!(passkeys::finish_registration)),
        ))
        .routes(guard(SignedIn, routes!(passkeys::list_passkeys)))
        .routes(guard(
            SignedIn,
            throttled(routes!(passkeys::rename_passkey)),
        ))
        .routes(guard(
            SignedIn,
            throttled(routes!(passkeys::remove_passkey)),
        ))
        .routes(guard(Public, throttled(routes!(passkeys::start_login))))
        .routes(guard(Public, throttled(routes!(passkeys::finish_login))))
        .routes(guard(
            Public,
            throttled(routes!(passkeys::start_second_factor)),
        ))
        .routes(guard(
            Public,
            throttled(routes!(passkeys::finish_second_factor)),
        ))
}
