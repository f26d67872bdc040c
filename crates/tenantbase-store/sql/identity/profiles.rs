//! The statements on user profiles, kept on the user's row.

use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{Avatar, Profile};
use tenantbase_store::identity::profiles::{PROFILE_COLUMNS, ProfileRow};
use tenantbase_store::rows::found;
use tenantbase_store::{StoreError, StoreResult};

use crate::dialect::Db;

pub(crate) async fn profile<'e, E>(db: E, user: UserId) -> StoreResult<Profile>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let row: Option<ProfileRow> = sqlx::query_as(&format!(
        "SELECT {} FROM users WHERE id = $1",
        PROFILE_COLUMNS
    ))
    .bind(user.as_uuid())
    .fetch_optional(db)
    .await?;
    row.ok_or(StoreError::NotFound).and_then(Profile::try_from)
}

pub(crate) async fn update_profile<'e, E>(db: E, user: UserId, profile: &Profile) -> StoreResult<()>
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

pub(crate) async fn set_avatar<'e, E>(
    db: E,
    user: UserId,
    previous: Option<&Avatar>,
    avatar: Option<&Avatar>,
) -> StoreResult<bool>
where
    E: sqlx::Executor<'e, Database = Db>,
{
    let changed = sqlx::query(
        "UPDATE users SET avatar_content_type = $2, avatar_sha256 = $3, avatar_key = $6, \
         updated_at = $4 \
         WHERE id = $1 AND avatar_sha256 IS NOT DISTINCT FROM $5 \
           AND avatar_key IS NOT DISTINCT FROM $7",
    )
    .bind(user.as_uuid())
    .bind(avatar.map(|a| a.content_type.as_str()))
    .bind(avatar.map(|a| a.sha256.as_str()))
    .bind(chrono::Utc::now())
    .bind(previous.map(|a| a.sha256.as_str()))
    .bind(avatar.and_then(|a| a.key.as_deref()))
    .bind(previous.and_then(|a| a.key.as_deref()))
    .execute(db)
    .await?;
    Ok(changed.rows_affected() == 1)
}
