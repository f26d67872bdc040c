//! User profiles, kept on the user's row: read and written outside any unit of work, the
//! avatar by compare and set.

use async_trait::async_trait;
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{Avatar, Profile, ProfileVisibility};

use crate::{StoreError, StoreResult};

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

/// The columns of `users` that make a `Profile`, in `ProfileRow`'s order.
pub const PROFILE_COLUMNS: &str =
    "display_name, bio, profile_visibility, avatar_content_type, avatar_sha256, avatar_key";

/// The profile columns of a row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub struct ProfileRow {
    pub display_name: String,
    pub bio: Option<String>,
    pub profile_visibility: String,
    pub avatar_content_type: Option<String>,
    pub avatar_sha256: Option<String>,
    pub avatar_key: Option<String>,
}

impl TryFrom<ProfileRow> for Profile {
    type Error = StoreError;

    fn try_from(row: ProfileRow) -> Result<Self, Self::Error> {
        let visibility = ProfileVisibility::parse(&row.profile_visibility).ok_or_else(|| {
            StoreError::Corrupt(format!("profile visibility {}", row.profile_visibility))
        })?;
        let avatar = match (row.avatar_content_type, row.avatar_sha256) {
            (Some(content_type), Some(sha256)) => Some(Avatar {
                content_type,
                sha256,
                key: row.avatar_key,
            }),
            _ => None,
        };
        Ok(Profile {
            display_name: row.display_name,
            bio: row.bio,
            visibility,
            avatar,
        })
    }
}
