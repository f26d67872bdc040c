//! Who is calling: the verified principal behind an access token (`Authenticated`), any
//! bearer credential (`Bearer`), and the org access an access guard granted (`OrgCtx`).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tenantbase_core::identity::{IdentityError, Principal};
use tenantbase_core::tenancy::{Credential, OrgAccess};

use super::bearer_token;
use crate::{ApiError, AppState};

/// A request from a signed-in user; extracting it answers 401 otherwise. On account
/// routes (`Access::SignedIn`) the access guard has admitted it already (no org-bound
/// token); elsewhere it is authenticated here.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(admitted) = parts.extensions.remove::<Authenticated>() {
            return Ok(admitted);
        }
        let token = bearer_token(parts)?;
        // A live key is a credential, just not one for a user's route: not a 401, which
        // would read as an invalid or revoked key. One that is not live is a 401.
        if Credential::is_api_key(token) {
            state.tenancy.api_key_access(token).await?;
            return Err(ApiError::forbidden(
                "user_required",
                "API keys act only on their org's routes; this one needs a signed-in user's access token.",
            ));
        }
        authenticate(state, token).await.map(Authenticated)
    }
}

/// The principal behind a user's access token whose session is live.
async fn authenticate(state: &AppState, token: &str) -> Result<Principal, ApiError> {
    match state.identity.authenticate(token).await {
        Ok(principal) => Ok(principal),
        Err(IdentityError::Store(error)) => Err(error.into()),
        Err(_) => Err(ApiError::invalid_token(
            "invalid_token",
            "The access token is invalid, expired or revoked.",
        )),
    }
}

/// The bearer credential of a request: an API key as is, an access token verified.
pub(crate) async fn credential(state: &AppState, parts: &Parts) -> Result<Credential, ApiError> {
    let token = bearer_token(parts)?;
    if Credential::is_api_key(token) {
        return Ok(Credential::ApiKey(token.to_owned()));
    }
    Ok(Credential::User(authenticate(state, token).await?))
}

/// Any authenticated bearer credential: a user's access token or an API key. For routes
/// without an org in the path that API keys may use too.
#[derive(Debug, Clone)]
pub struct Bearer(pub Credential);

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // On account routes the guard has verified the token already.
        if let Some(Authenticated(principal)) = parts.extensions.remove::<Authenticated>() {
            return Ok(Bearer(Credential::User(principal)));
        }
        credential(state, parts).await.map(Bearer)
    }
}

/// What an org route's handler knows about its caller: authorized in the path's org.
#[derive(Debug, Clone)]
pub struct OrgCtx {
    pub access: OrgAccess,
    pub credential: Credential,
}

impl<S: Send + Sync> FromRequestParts<S> for OrgCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Taken, not cloned: a handler extracts it once.
        parts.extensions.remove::<OrgCtx>().ok_or_else(|| {
            ApiError::internal(&std::io::Error::other(
                "org route registered without its access guard",
            ))
        })
    }
}
