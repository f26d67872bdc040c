//! File rows of an org (the bytes live in the object store) and the bytes they count
//! against the org's and its creator's quotas.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{FileId, UserId};
use tenantbase_domain::model::StoredFile;
use uuid::Uuid;

use crate::{StoreError, StoreResult};

/// The columns of `files` but `org_id`, in the order of `FileRow`.
pub const COLUMNS: &str =
    "id, name, size, content_type, sha256, created_by, created_at, upload_claim";

#[async_trait]
pub trait FilesUnit: Send {
    /// Also charges the bytes to the org and to its creator.
    async fn insert_file(&mut self, file: &StoredFile) -> StoreResult<()>;
    /// `NotFound` if not in this org.
    async fn file(&mut self, id: FileId) -> StoreResult<StoredFile>;
    async fn files(&mut self, query: &FileQuery) -> StoreResult<Vec<StoredFile>>;
    /// `false` if there was no such file.
    async fn delete_file(&mut self, id: FileId) -> StoreResult<bool>;
    /// Which of `ids` have a row, each with the claim its object's key names.
    async fn existing_files(
        &mut self,
        ids: &[FileId],
    ) -> StoreResult<Vec<(FileId, Option<DateTime<Utc>>)>>;
    /// Bytes the org uses: stored files plus presigned uploads still open (or being
    /// completed) at `now`.
    async fn bytes_used(&mut self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Bytes stored across every org the org's creator created, plus this org's uploads
    /// open at `now`: what the per-creator quota counts.
    async fn creator_bytes_used(&mut self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Locks the org's creator's row until commit (PostgreSQL; SQLite units already hold
    /// the write lock), so uploads to two of their orgs check the creator quota in turn.
    async fn lock_creator(&mut self) -> StoreResult<()>;
}

/// A page of an org's files, oldest first.
#[derive(Debug, Clone, Default)]
pub struct FileQuery {
    /// Names starting with this (byte-wise).
    pub name_prefix: Option<String>,
    /// `image/png` matches exactly; `image/` (ending in a slash) matches the whole family.
    pub content_type: Option<String>,
    /// Where the previous page ended.
    pub after: Option<(DateTime<Utc>, FileId)>,
    pub limit: u32,
}

/// A size column as the entities keep it.
pub fn size_column(size: i64) -> Result<u64, StoreError> {
    u64::try_from(size).map_err(|_| StoreError::Corrupt(format!("negative file size {size}")))
}

/// A size as the databases keep it (signed 64-bit).
pub fn size_value(size: u64) -> Result<i64, StoreError> {
    i64::try_from(size).map_err(|_| StoreError::Invalid(format!("file size {size} too large")))
}

#[derive(Debug, sqlx::FromRow)]
pub struct FileRow {
    pub id: Uuid,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub sha256: String,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub upload_claim: Option<DateTime<Utc>>,
}

impl TryFrom<FileRow> for StoredFile {
    type Error = StoreError;

    fn try_from(row: FileRow) -> Result<Self, Self::Error> {
        Ok(StoredFile {
            id: FileId::from_uuid(row.id),
            name: row.name,
            size: size_column(row.size)?,
            content_type: row.content_type,
            sha256: row.sha256,
            created_by: UserId::from_uuid(row.created_by),
            created_at: row.created_at,
            upload_claim: row.upload_claim,
        })
    }
}
