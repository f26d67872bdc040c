//! Request and response bodies of the auth routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_domain::model::{Session, User};
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterBody {
    pub email: String,
    pub password: String,
    /// At most 100 characters, no control or invisible formatting characters; absent or
    /// blank, the address's local part stands in.
    pub display_name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LoginBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SignInBody {
    pub email: String,
    pub password: String,
    /// The `device_token` a second step with `trust_device` returned: with the same
    /// `X-Device-Id`, the second factor is skipped until the token expires.
    pub device_token: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefreshBody {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TokenBody {
    /// The token from the emailed link.
    pub token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ForgotBody {
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResetBody {
    pub token: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChangePasswordBody {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct RevokeAllQuery {
    /// Also end the session making this request.
    #[serde(default)]
    pub include_current: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    /// `usr_…`
    pub id: String,
    pub email: Option<String>,
    pub display_name: String,
    pub email_verified: bool,
    pub is_guest: bool,
    pub created_at: DateTime<Utc>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            email: user.email.clone(),
            display_name: user.display_name.clone(),
            email_verified: user.email_verified,
            is_guest: user.is_guest,
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenResponse {
    pub user: UserView,
    pub access_token: String,
    /// Opaque, single use: each refresh returns a new one.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MeResponse {
    pub user: UserView,
    /// `ses_…`
    pub session_id: String,
    /// How this session signed in (`pwd`, `guest`, …).
    pub auth_methods: Vec<String>,
    pub email_verified: bool,
    /// The orgs the user belongs to, by org id: the first 100 (`GET /v1/orgs` pages
    /// through all). A token bound to one org shows that org only.
    pub memberships: Vec<crate::dto::MembershipView>,
    /// Bio, visibility and avatar (`PATCH /v1/auth/me` changes them).
    pub profile: crate::dto::ProfileView,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionView {
    /// `ses_…`
    pub id: String,
    /// What the client called itself when it signed in: its `X-Device-Label` header (at
    /// most 100 characters, control characters left out), e.g. `Ada's laptop`.
    pub device_label: Option<String>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// How the session signed in (RFC 8176: `pwd`, `otp`, `mfa`, …).
    pub amr: Vec<String>,
    /// Whether this is the session making the request.
    pub current: bool,
}

impl SessionView {
    pub(crate) fn new(session: &Session, current: bool) -> Self {
        Self {
            id: session.id.to_string(),
            device_label: session.device_label.clone(),
            user_agent: session.user_agent.clone(),
            ip: session.ip.clone(),
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.idle_expires_at.min(session.absolute_expires_at),
            amr: session.amr.clone(),
            current,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RevokedCount {
    pub revoked: u64,
}
