//! Files of an org: their rows; the bytes live in the object store.
//!
//! `FileUnit` is part of every `OrgUnit`, so file rows are reached, like every org-owned
//! row, only through a unit confined to one org.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tenantbase_domain::id::{FileId, UserId};

use crate::StoreResult;

/// A file stored in full: its row exists only once its object does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub id: FileId,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
}

/// A presigned upload the client has not yet reported complete. Its size counts against
/// the org's quota until it completes or expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileUpload {
    pub id: FileId,
    pub name: String,
    pub size: u64,
    pub content_type: String,
    /// The hex SHA-256 the client promised, checked on completion.
    pub sha256: Option<String>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
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

#[async_trait]
pub trait FileUnit: Send {
    /// Also charges the bytes to the org and to its creator.
    async fn insert_file(&mut self, file: &StoredFile) -> StoreResult<()>;
    /// `NotFound` if not in this org.
    async fn file(&mut self, id: FileId) -> StoreResult<StoredFile>;
    async fn files(&mut self, query: &FileQuery) -> StoreResult<Vec<StoredFile>>;
    /// `false` if there was no such file.
    async fn delete_file(&mut self, id: FileId) -> StoreResult<bool>;
    /// Which of `ids` have a row.
    async fn existing_files(&mut self, ids: &[FileId]) -> StoreResult<Vec<FileId>>;
    /// Bytes the org uses: stored files plus presigned uploads still open (or being
    /// completed) at `now`.
    async fn bytes_used(&mut self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Bytes stored across every org the org's creator created, plus this org's uploads
    /// open at `now`: what the per-creator quota counts.
    async fn creator_bytes_used(&mut self, now: DateTime<Utc>) -> StoreResult<u64>;
    /// Locks the org's creator's row until commit (PostgreSQL; SQLite units already hold
    /// the write lock), so uploads to two of their orgs check the creator quota in turn.
    async fn lock_creator(&mut self) -> StoreResult<()>;

    async fn insert_upload(&mut self, upload: &FileUpload) -> StoreResult<()>;
    /// `NotFound` if not in this org (expired ones are returned).
    async fn upload(&mut self, id: FileId) -> StoreResult<FileUpload>;
    async fn delete_upload(&mut self, id: FileId) -> StoreResult<bool>;
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
    /// Gives a claim up, so the upload can be completed again.
    async fn release_upload(&mut self, id: FileId) -> StoreResult<()>;
}
