//! User profiles (DATA-3): display name, bio, who may see them, and the avatar — an
//! image of at most 2 MiB whose header is parsed before it is stored.

use bytes::Bytes;
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::{Avatar, Profile, ProfileVisibility};
use uuid::Uuid;

use super::files::FileRefusal;
use super::{FieldProblem, Tenancy, TenancyError, required_text};

pub const AVATAR_MAX_BYTES: usize = 2 * 1024 * 1024;
/// Widest and tallest avatar accepted, in pixels.
pub const AVATAR_MAX_SIDE: usize = 4096;
pub const DISPLAY_NAME_MAX: usize = 100;
pub const BIO_MAX: usize = 1_000;
const AVATAR_TYPES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A partial update: absent fields stay; `bio: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub display_name: Option<String>,
    pub bio: Option<Option<String>>,
    pub visibility: Option<String>,
    /// Problems found before the change got here (a field sent as `null` that cannot be,
    /// or of the wrong type): refused with the change's own, so one answer names every field.
    pub refused: Vec<FieldProblem>,
}

/// Each upload under a key of its own, which the row names: a new one never overwrites
/// the bytes the row still describes, the old one goes only once the row points at the
/// new, and removing one never takes the bytes of the same image uploaded again.
fn avatar_key(user: UserId, avatar: &Avatar) -> String {
    match &avatar.key {
        Some(key) => key.clone(),
        None => format!("users/{user}/avatar/{}", avatar.sha256),
    }
}

fn avatar_changed() -> TenancyError {
    TenancyError::Conflict(
        "avatar_changed",
        "The avatar changed while this request ran; retry.".to_owned(),
    )
}

impl Tenancy {
    pub async fn profile(&self, user: UserId) -> Result<Profile, TenancyError> {
        Ok(self.store.profile(user).await?)
    }

    pub async fn update_profile(
        &self,
        user: UserId,
        patch: ProfilePatch,
    ) -> Result<Profile, TenancyError> {
        let mut profile = self.store.profile(user).await?;
        let mut problems = patch.refused;
        if let Some(name) = &patch.display_name {
            match required_text("display_name", name, DISPLAY_NAME_MAX) {
                Ok(name) => profile.display_name = name,
                Err(problem) => problems.push(problem),
            }
        }
        match patch.bio.as_ref().map(|bio| bio.as_deref().map(str::trim)) {
            Some(None | Some("")) => profile.bio = None,
            Some(Some(bio)) if bio.chars().count() > BIO_MAX => problems.push(FieldProblem::new(
                "bio",
                format!("must be at most {BIO_MAX} characters"),
            )),
            Some(Some(bio)) => profile.bio = Some(bio.to_owned()),
            None => {}
        }
        if let Some(visibility) = &patch.visibility {
            match ProfileVisibility::parse(visibility) {
                Some(visibility) => profile.visibility = visibility,
                None => problems.push(FieldProblem::new(
                    "profile_visibility",
                    "must be org or private",
                )),
            }
        }
        if !problems.is_empty() {
            return Err(TenancyError::Invalid(problems));
        }
        self.store.update_profile(user, &profile).await?;
        Ok(profile)
    }

    /// Checks that `bytes` are an image of the declared type within the limits, then
    /// stores them as the user's avatar.
    pub async fn set_avatar(
        &self,
        user: UserId,
        content_type: &str,
        bytes: Bytes,
    ) -> Result<Avatar, TenancyError> {
        let content_type = super::files::valid_content_type("content_type", content_type)
            .map_err(|p| TenancyError::Invalid(vec![p]))?;
        if !AVATAR_TYPES.contains(&content_type.as_str()) {
            return Err(TenancyError::File(FileRefusal::TypeMismatch {
                declared: content_type,
                found: "an avatar must be PNG, JPEG, GIF or WebP".to_owned(),
            }));
        }
        if bytes.len() > AVATAR_MAX_BYTES {
            return Err(TenancyError::File(FileRefusal::TooLarge {
                max_bytes: AVATAR_MAX_BYTES as u64,
            }));
        }
        if bytes.is_empty() {
            // Not an image of another type: no image at all.
            return Err(TenancyError::invalid(
                "avatar",
                "is empty: send the image as the request body",
            ));
        }
        if let Some(found) = super::files::sniff::mismatch(&content_type, &bytes) {
            return Err(TenancyError::File(FileRefusal::TypeMismatch {
                declared: content_type,
                found,
            }));
        }
        match imagesize::blob_size(&bytes) {
            Ok(size) if size.width == 0 || size.height == 0 => {
                return Err(TenancyError::invalid("avatar", "the image has no pixels"));
            }
            Ok(size) if size.width > AVATAR_MAX_SIDE || size.height > AVATAR_MAX_SIDE => {
                return Err(TenancyError::invalid(
                    "avatar",
                    format!("must be at most {AVATAR_MAX_SIDE}×{AVATAR_MAX_SIDE} pixels"),
                ));
            }
            Ok(_) => {}
            Err(_) => return Err(TenancyError::invalid("avatar", "is not a readable image")),
        }
        let sha256 = hex::encode(Sha256::digest(&bytes));
        let avatar = Avatar {
            key: Some(format!(
                "users/{user}/avatar/{sha256}.{}",
                Uuid::now_v7().simple()
            )),
            content_type,
            sha256,
        };
        let previous = self.store.profile(user).await?.avatar;
        self.blob
            .put(&avatar_key(user, &avatar), bytes.to_vec())
            .await
            .map_err(super::files::unavailable)?;
        if !self
            .store
            .set_avatar(user, previous.as_ref(), Some(&avatar))
            .await?
        {
            self.forget_avatar(user, &avatar).await;
            return Err(avatar_changed());
        }
        if let Some(previous) = previous {
            self.forget_avatar(user, &previous).await;
        }
        Ok(avatar)
    }

    /// Removes the user's avatar; `NotFound` if they have none.
    pub async fn delete_avatar(&self, user: UserId) -> Result<(), TenancyError> {
        let Some(avatar) = self.store.profile(user).await?.avatar else {
            return Err(TenancyError::NotFound);
        };
        if !self.store.set_avatar(user, Some(&avatar), None).await? {
            return Err(avatar_changed());
        }
        self.forget_avatar(user, &avatar).await;
        Ok(())
    }

    /// Removes the bytes of `avatar` unless the profile names them now (an avatar stored
    /// before keys were per upload may have been set again meanwhile).
    async fn forget_avatar(&self, user: UserId, avatar: &Avatar) {
        let key = avatar_key(user, avatar);
        let named = match self.store.profile(user).await {
            Ok(profile) => profile.avatar.is_some_and(|a| avatar_key(user, &a) == key),
            Err(_) => true,
        };
        if named {
            return;
        }
        if let Err(error) = self.blob.delete(&key).await {
            tracing::warn!(%error, "removing a replaced avatar; its bytes stay behind");
        }
    }

    /// Whether `viewer` may see `owner`'s profile: their own, or — unless it is private —
    /// a fellow member of one of their orgs. Others get 404, as if it did not exist.
    async fn may_see(
        &self,
        viewer: UserId,
        owner: UserId,
        profile: &Profile,
    ) -> Result<bool, TenancyError> {
        if viewer == owner {
            return Ok(true);
        }
        if profile.visibility == ProfileVisibility::Private {
            return Ok(false);
        }
        let theirs = self.all_orgs_of(owner).await?;
        let mine = self.all_orgs_of(viewer).await?;
        Ok(mine.iter().any(|org| theirs.contains(org)))
    }

    async fn all_orgs_of(
        &self,
        user: UserId,
    ) -> Result<Vec<tenantbase_domain::OrgId>, TenancyError> {
        const PAGE: u32 = 500;
        let mut orgs = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.orgs_of_user(user, after, PAGE).await?;
            let more = page.len() == PAGE as usize;
            orgs.extend(page.into_iter().map(|m| m.org.id));
            after = orgs.last().copied();
            if !more {
                return Ok(orgs);
            }
        }
    }

    /// `owner`'s avatar as `viewer` may see it: its description and bytes.
    pub async fn avatar(
        &self,
        viewer: UserId,
        owner: UserId,
    ) -> Result<(Avatar, Bytes), TenancyError> {
        let profile = self.store.profile(owner).await?;
        let Some(avatar) = profile.avatar.clone() else {
            return Err(TenancyError::NotFound);
        };
        if !self.may_see(viewer, owner, &profile).await? {
            return Err(TenancyError::NotFound);
        }
        let mut body = self
            .blob
            .read(&avatar_key(owner, &avatar), None)
            .await
            .map_err(super::files::unavailable)?
            .body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.map_err(super::files::unavailable)?);
        }
        Ok((avatar, Bytes::from(bytes)))
    }
}
