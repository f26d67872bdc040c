//! The statements on user profiles, both dialects, instantiated per backend by
//! `profile_statements!` as `profile_sql`, which backs `ProfileStore` (see `store_areas!`).

use crate::StoreError;
use crate::files::{Avatar, Profile, ProfileVisibility};

pub mod columns {
    pub const PROFILE: &str =
        "display_name, bio, profile_visibility, avatar_content_type, avatar_sha256";
}

#[derive(Debug, sqlx::FromRow)]
pub struct ProfileRow {
    pub display_name: String,
    pub bio: Option<String>,
    pub profile_visibility: String,
    pub avatar_content_type: Option<String>,
    pub avatar_sha256: Option<String>,
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

/// Instantiates the profile statements for `$db` as `profile_sql`.
#[macro_export]
macro_rules! profile_statements {
    ($db:ty) => {
        /// User profiles, for this backend.
        pub(crate) mod profile_sql {
            use tenantbase_domain::id::UserId;
            use tenantbase_store::files::{Avatar, Profile};
            use tenantbase_store::shared_files::{columns, ProfileRow};
            use tenantbase_store::rows::found;
            use tenantbase_store::{StoreError, StoreResult};

            type Db = $db;

            pub async fn profile<'e, E>(db: E, user: UserId) -> StoreResult<Profile>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let row: Option<ProfileRow> = sqlx::query_as(&format!(
                    "SELECT {} FROM users WHERE id = $1",
                    columns::PROFILE
                ))
                .bind(user.as_uuid())
                .fetch_optional(db)
                .await?;
                row.ok_or(StoreError::NotFound).and_then(Profile::try_from)
            }

            pub async fn update_profile<'e, E>(db: E, user: UserId, profile: &Profile) -> StoreResult<()>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let changed = sqlx::query(
                    "UPDATE users SET display_name = $2, bio = $3, profile_visibility = $4, \
                     updated_at = $5 WHERE id = $1",
                )
                .bind(user.as_uuid())
                .bind(&profile.display_name)
                .bind(&profile.bio)
                .bind(profile.visibility.as_str())
                .bind(chrono::Utc::now())
                .execute(db)
                .await?;
                found(changed.rows_affected())
            }

            pub async fn set_avatar<'e, E>(
                db: E,
                user: UserId,
                previous: Option<&Avatar>,
                avatar: Option<&Avatar>,
            ) -> StoreResult<bool>
            where
                E: sqlx::Executor<'e, Database = Db>,
            {
                let changed = sqlx::query(
                    "UPDATE users SET avatar_content_type = $2, avatar_sha256 = $3, updated_at = $4 \
                     WHERE id = $1 AND avatar_sha256 IS NOT DISTINCT FROM $5",
                )
                .bind(user.as_uuid())
                .bind(avatar.map(|a| a.content_type.as_str()))
                .bind(avatar.map(|a| a.sha256.as_str()))
                .bind(chrono::Utc::now())
                .bind(previous.map(|a| a.sha256.as_str()))
                .execute(db)
                .await?;
                Ok(changed.rows_affected() == 1)
            }
        }
    };
}
