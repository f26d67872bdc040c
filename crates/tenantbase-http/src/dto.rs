//! Bodies several areas share: a user's profile (in `/v1/auth/me` and the profile
//! routes). Lists share the page kit of `tenantbase_domain::page`.

use serde::Serialize;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::Profile;
use utoipa::ToSchema;

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
