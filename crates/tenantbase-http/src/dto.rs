//! Bodies several areas share: a user's profile (in `/v1/auth/me` and the profile
//! routes) and memberships. Lists share the page kit of `tenantbase_domain::page`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenantbase_core::tenancy::MembershipGrant;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::Profile;
use utoipa::ToSchema;

/// One org the user belongs to, with what the membership grants now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MembershipView {
    /// `org_…`
    pub org_id: String,
    pub name: String,
    pub slug: String,
    /// Names of the roles held in the org, directly or through teams.
    pub roles: Vec<String>,
    /// The permissions those roles grant together, in catalog order.
    pub permissions: Vec<String>,
    /// Whether the org's routes need a session signed in with a second factor.
    pub require_mfa: bool,
    pub joined_at: DateTime<Utc>,
}

impl From<MembershipGrant> for MembershipView {
    fn from(granted: MembershipGrant) -> Self {
        let MembershipGrant {
            membership,
            roles,
            permissions,
        } = granted;
        Self {
            org_id: membership.org.id.to_string(),
            name: membership.org.name,
            slug: membership.org.slug,
            roles: roles.to_vec(),
            permissions: permissions.names(),
            require_mfa: membership.org.require_mfa,
            joined_at: membership.joined_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProfileView {
    /// `usr_…`
    pub user_id: String,
    pub display_name: String,
    pub bio: Option<String>,
    /// `org` (fellow members may see it) or `private` (only you).
    pub profile_visibility: &'static str,
    /// Where the avatar is served; null without one.
    pub avatar_url: Option<String>,
}

impl ProfileView {
    pub(crate) fn new(user: UserId, profile: Profile) -> Self {
        Self {
            user_id: user.to_string(),
            avatar_url: profile.avatar.as_ref().map(|a| {
                format!(
                    "/v1/users/{user}/avatar?v={}",
                    &a.sha256[..16.min(a.sha256.len())]
                )
            }),
            display_name: profile.display_name,
            bio: profile.bio,
            profile_visibility: profile.visibility.as_str(),
        }
    }
}
