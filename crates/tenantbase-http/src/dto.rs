//! Bodies several areas share: a page of a list and the query asking for one, and a
//! user's profile (in `/v1/auth/me` and the profile routes).

use serde::{Deserialize, Serialize};
use tenantbase_domain::id::UserId;
use tenantbase_store::files::Profile;
use utoipa::{IntoParams, ToSchema};

/// A page of a list: `next_cursor` is null on the last page.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Page<T: ToSchema> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
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
