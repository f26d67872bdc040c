//! Request and response bodies of the OpenID Connect and identity routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_domain::model::LinkedIdentity;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartQuery {
    /// Where the flow ends: one of the provider's configured `redirect_uris`, exactly.
    pub redirect_uri: String,
    /// Recommended: the S256 challenge (RFC 7636) of a verifier the app keeps; the
    /// exchange then needs the verifier, so the login code works only for this app.
    /// Required by providers configured with `require_code_challenge`.
    pub code_challenge: Option<String>,
}

/// What the provider sends the browser back with. Providers add parameters of their own
/// (`iss`, `session_state`, …): unknown ones are ignored.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's refusal (e.g. `access_denied`).
    pub error: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExchangeBody {
    /// The `login_code` the callback appended to the redirect URI (single use, 60 s).
    pub login_code: String,
    /// The verifier of the `code_challenge` given at the start, if one was.
    pub code_verifier: Option<String>,
    /// The `device_token` a second step with `trust_device` returned: with the same
    /// `X-Device-Id`, the account's second factor is skipped until the token expires.
    pub device_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkBody {
    /// A configured provider's name.
    pub provider: String,
    /// One of the provider's configured `redirect_uris`; the callback returns there with
    /// `link_code`, which `POST /v1/auth/identities/link/confirm` needs.
    pub redirect_uri: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LinkConfirmBody {
    /// The `link_code` the linking flow's callback appended to the redirect URI (single
    /// use, 5 minutes, only for the session that started the flow).
    pub link_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuthorizationUrl {
    /// Send the browser here to consent at the provider.
    pub authorization_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProviderView {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct IdentityView {
    /// `idn_…`
    pub id: String,
    pub provider: String,
    /// The email the provider asserted when it was linked.
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&LinkedIdentity> for IdentityView {
    fn from(identity: &LinkedIdentity) -> Self {
        Self {
            id: identity.id.to_string(),
            provider: identity.provider.clone(),
            email: identity.email.clone(),
            created_at: identity.created_at,
            last_used_at: identity.last_used_at,
        }
    }
}
