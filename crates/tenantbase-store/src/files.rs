//! User profiles: what a user says about themself, and their avatar.

use async_trait::async_trait;
use tenantbase_domain::id::UserId;

use crate::StoreResult;

/// Who may see a user's profile and avatar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileVisibility {
    /// Members of any org the user belongs to.
    #[default]
    Org,
    /// Only the user.
    Private,
}

impl ProfileVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileVisibility::Org => "org",
            ProfileVisibility::Private => "private",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "org" => Some(ProfileVisibility::Org),
            "private" => Some(ProfileVisibility::Private),
            _ => None,
        }
    }
}

/// A user's avatar: the object `users/{user_id}/avatar`, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    pub content_type: String,
    pub sha256: String,
}

/// What a user says about themself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub display_name: String,
    pub bio: Option<String>,
    pub visibility: ProfileVisibility,
    pub avatar: Option<Avatar>,
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// `NotFound` if there is no such user.
    async fn profile(&self, user: UserId) -> StoreResult<Profile>;
    /// Writes every field but the avatar.
    async fn update_profile(&self, user: UserId, profile: &Profile) -> StoreResult<()>;
    /// Replaces the avatar if it is still `previous` (compare and set); `false` if it was
    /// not (another request changed it, or there is no such user).
    async fn set_avatar(
        &self,
        user: UserId,
        previous: Option<&Avatar>,
        avatar: Option<&Avatar>,
    ) -> StoreResult<bool>;
}
