//! `/v1/auth/…`: sign-up, sign-in, guests, token refresh, sessions, and the JWKS.

mod dto;
mod extract;
mod handlers;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use extract::{Authenticated, ClientMeta, RequestInfo};
pub(crate) use extract::{authenticate, bearer_token};

use crate::AppState;
use crate::access::guard;
use tenantbase_core::tenancy::Access;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    use Access::{Introspect, Public, SignedIn};
    OpenApiRouter::new()
        .routes(guard(Public, routes!(handlers::register)))
        .routes(guard(Public, routes!(handlers::login)))
        .routes(guard(Public, routes!(handlers::guest)))
        .routes(guard(Public, routes!(handlers::refresh)))
        .routes(guard(SignedIn, routes!(handlers::logout)))
        .routes(guard(Introspect, routes!(handlers::me)))
        .routes(guard(SignedIn, routes!(handlers::list_sessions)))
        .routes(guard(SignedIn, routes!(handlers::revoke_session)))
        .routes(guard(SignedIn, routes!(handlers::revoke_all_sessions)))
        .routes(guard(Public, routes!(handlers::verify_email)))
        .routes(guard(SignedIn, routes!(handlers::resend_verification)))
        .routes(guard(Public, routes!(handlers::forgot_password)))
        .routes(guard(Public, routes!(handlers::reset_password)))
        .routes(guard(SignedIn, routes!(handlers::change_password)))
        .routes(guard(SignedIn, routes!(handlers::upgrade_guest)))
        .routes(guard(Introspect, routes!(handlers::verify)))
        .routes(guard(Public, routes!(handlers::jwks)))
}
