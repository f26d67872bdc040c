//! `/v1/auth/…`: sign-up, sign-in, guests, token refresh, sessions, and the JWKS.

mod dto;
mod extract;
mod handlers;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use extract::{Authenticated, ClientMeta, RequestInfo};
pub(crate) use extract::{authenticate, bearer_token};

use crate::AppState;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::register))
        .routes(routes!(handlers::login))
        .routes(routes!(handlers::guest))
        .routes(routes!(handlers::refresh))
        .routes(routes!(handlers::logout))
        .routes(routes!(handlers::me))
        .routes(routes!(handlers::list_sessions))
        .routes(routes!(handlers::revoke_session))
        .routes(routes!(handlers::revoke_all_sessions))
        .routes(routes!(handlers::verify_email))
        .routes(routes!(handlers::resend_verification))
        .routes(routes!(handlers::forgot_password))
        .routes(routes!(handlers::reset_password))
        .routes(routes!(handlers::change_password))
        .routes(routes!(handlers::upgrade_guest))
        .routes(routes!(handlers::verify))
        .routes(routes!(handlers::jwks))
}
