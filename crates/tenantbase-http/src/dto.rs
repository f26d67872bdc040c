//! Bodies several areas share: a user's profile (in `/v1/auth/me` and the profile
//! routes) and memberships. Lists share the page kit of `tenantbase_domain::page`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{Membership, Profile};
use utoipa::ToSchema;

/// One org the user belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MembershipView {
    /// `org_…`
    pub org_id: String,
    pub name: String,
    pub slug: String,
    pub joined_at: DateTime<Utc>,
}

impl From<Membership> for MembershipView {
    fn from(membership: Membership) -> Self {
        Self {
            org_id: membership.org.id.to_string(),
            name: membership.org.name,
            slug: membership.org.slug,
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
