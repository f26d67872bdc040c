//! What a user says about themself, and who may see it.

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

/// A user's avatar: an object of the store, described.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    pub content_type: String,
    pub sha256: String,
    /// The object's key, one per upload; `None` for an avatar stored before keys were
    /// (`users/{user_id}/avatar/{sha256}`).
    pub key: Option<String>,
}

/// What a user says about themself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub display_name: String,
    pub bio: Option<String>,
    pub visibility: ProfileVisibility,
    pub avatar: Option<Avatar>,
}
