//! Presigned uploads of an org: open until the client reports them complete or they
//! expire, and counted against the org's quota meanwhile.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{FileId, UserId};
use tenantbase_domain::model::FileUpload;
use uuid::Uuid;

use super::files::size_column;
use crate::{StoreError, StoreResult};

/// The columns of `file_uploads` that `UploadRow` reads, in its order.
pub const COLUMNS: &str =
    "id, name, size, content_type, sha256, created_by, created_at, expires_at";

#[async_trait]
pub trait UploadsUnit: Send {
    async fn insert_upload(&mut self, upload: &FileUpload) -> StoreResult<()>;
    /// `NotFound` if not in this org (expired ones are returned).
    async fn upload(&mut self, id: FileId) -> StoreResult<FileUpload>;
    async fn delete_upload(&mut self, id: FileId) -> StoreResult<bool>;
    /// Removes the upload unless a completion's claim holds it at `now`; `false` if one
    /// does (or the upload is gone).
    async fn cancel_upload(&mut self, id: FileId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Removes uploads expired at `now` and not being completed; how many went.
    async fn prune_uploads(&mut self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Uploads still open (or being completed) at `now`.
    async fn open_uploads(&mut self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Claims the upload for one completion until `until`; `false` if another holds it.
    async fn claim_upload(
        &mut self,
        id: FileId,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Gives up the claim that runs until `claim`, so the upload can be completed again;
    /// a newer claim (this one ran out and another completion took over) stays.
    async fn release_upload(&mut self, id: FileId, claim: DateTime<Utc>) -> StoreResult<()>;
    /// Whether the claim that runs until `claim` still holds the upload at `now`; if so,
    /// its row stays locked until this unit ends, so no other completion can claim it
    /// meanwhile.
    async fn hold_upload(
        &mut self,
        id: FileId,
        claim: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
}

#[derive(Debug, sqlx::FromRow)]
pub struct UploadRow {
    pub id: Uuid,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub sha256: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl TryFrom<UploadRow> for FileUpload {
    type Error = StoreError;

    fn try_from(row: UploadRow) -> Result<Self, Self::Error> {
        Ok(FileUpload {
            id: FileId::from_uuid(row.id),
            name: row.name,
            size: size_column(row.size)?,
            content_type: row.content_type,
            sha256: row.sha256,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            expires_at: row.expires_at,
        })
    }
}
