//! Files of an org (DATA-2): streamed uploads under a per-org quota, a quota per creating
//! user across their orgs (`quota`) and a size cap; content-type checks, metadata,
//! downloads, deletion, presigned URLs, and the sweep that removes objects no row
//! describes. Objects are keyed `org/{org_id}/{file_id}`, or `….{claim}` for a presigned
//! upload's (`object_key`).

mod grants;
mod ingest;
mod presign;
mod quota;
pub(crate) mod sniff;
mod sweep;

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::Stream;
use serde::Deserialize;
use tenantbase_blob::{BlobError, BlobRead};
use tenantbase_domain::OrgId;
use tenantbase_domain::id::FileId;
use tenantbase_domain::model::{RequestMeta, StoredFile};
use tenantbase_domain::page::{Cursor, Page, PageQuery};
use tenantbase_store::org::files::FileQuery;

pub use grants::{BlobGrant, GrantMethod, GrantRefusal};
pub use presign::{PresignedDownload, PresignedUpload, UploadRequest};
pub use sweep::SweepFiles;

use super::access::OrgAccess;
use super::cache::OrgStale;
use super::{FieldProblem, Tenancy, TenancyError, is_invisible_format, now_micros};
use crate::write::Change;
use ingest::ingest;
use utoipa::IntoParams;

pub const NAME_MAX: usize = 255;
/// Uploads have no overall time limit, but one that sends nothing for this long ends.
pub const UPLOAD_IDLE_LIMIT: Duration = Duration::from_secs(60);

/// Limits and keys of file storage, from the configuration.
#[derive(Clone)]
pub struct FilePolicy {
    /// Bytes an org may keep, counting presigned uploads still open.
    pub quota_bytes: u64,
    /// Bytes the orgs one user created may keep together (their open presigned uploads
    /// count in the org being written to).
    pub creator_quota_bytes: u64,
    /// Largest single file.
    pub max_file_bytes: u64,
    /// Signs the `/v1/blobs/{token}` URLs of stores that cannot sign their own.
    pub url_key: zeroize::Zeroizing<[u8; 32]>,
    /// Where this API is reached from outside, for those URLs.
    pub public_url: String,
}

impl std::fmt::Debug for FilePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilePolicy")
            .field("quota_bytes", &self.quota_bytes)
            .field("creator_quota_bytes", &self.creator_quota_bytes)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

impl Default for FilePolicy {
    fn default() -> Self {
        Self {
            quota_bytes: 10 << 30,
            creator_quota_bytes: 20 << 30,
            max_file_bytes: 5 << 30,
            // A key of this process only: URLs die with it. `serve` derives a stable one
            // from the master key.
            url_key: zeroize::Zeroizing::new(random_key()),
            public_url: "http://127.0.0.1:8080".to_owned(),
        }
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    // Linux's getrandom cannot fail once the pool is seeded; a key nobody chose matters more
    // than going on without one.
    getrandom::fill(&mut key).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    key
}

/// Why a file operation was refused, beyond invalid fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileRefusal {
    /// Larger than the per-file cap.
    TooLarge { max_bytes: u64 },
    /// Would take the org, or its creator's orgs together, past a quota.
    QuotaExceeded {
        quota: StorageQuota,
        quota_bytes: u64,
        used_bytes: u64,
    },
    /// The bytes' signature says another type.
    TypeMismatch { declared: String, found: String },
    /// The body ended before it was complete.
    Interrupted,
    /// The object store does not answer.
    StoreUnavailable,
}

/// Which storage quota an upload ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageQuota {
    /// The org's own (`files.quota_bytes`).
    Org,
    /// Its creator's, across every org they created (`files.quota_bytes_per_creator`).
    Creator,
}

pub(crate) fn unavailable(error: BlobError) -> TenancyError {
    tracing::warn!(%error, "object store failed");
    TenancyError::File(FileRefusal::StoreUnavailable)
}

/// Where a file's bytes live: one key space per org. A presigned upload's completion
/// moves the staged bytes to a key of its own, named by its claim (the end of its lease,
/// in microseconds): a move that lands after its lease ran out cannot replace the bytes of
/// the file another completion recorded.
pub fn object_key(org: OrgId, file: FileId, claim: Option<DateTime<Utc>>) -> String {
    match claim {
        None => format!("org/{org}/{file}"),
        Some(until) => format!("org/{org}/{file}.{}", until.timestamp_micros()),
    }
}

/// The key of `file`'s bytes, from its row (within `org`: no row leads to another org's
/// bytes).
fn file_key(org: OrgId, file: &StoredFile) -> String {
    object_key(org, file.id, file.upload_claim)
}

/// Where a presigned upload's bytes land until it completes. Presigned URLs write only
/// here, so once a file is recorded no URL can change its bytes.
pub fn staging_key(org: OrgId, upload: FileId) -> String {
    format!("uploads/{org}/{upload}")
}

/// A file name as stored: no path separators, no control characters, not `.`/`..`.
pub(crate) fn valid_name(field: &str, name: &str) -> Result<String, FieldProblem> {
    let problem = |message: &str| Err(FieldProblem::new(field, message));
    if name.is_empty() || name.trim().is_empty() {
        return problem("must not be empty");
    }
    if name.chars().count() > NAME_MAX {
        return problem("must be at most 255 characters");
    }
    if name.contains(['/', '\\']) {
        return problem("must not contain path separators");
    }
    if name
        .chars()
        .any(|c| c.is_control() || is_invisible_format(c))
    {
        return problem("must not contain control or invisible formatting characters");
    }
    if name == "." || name == ".." {
        return problem("must not be . or ..");
    }
    Ok(name.to_owned())
}

/// A media type `type/subtype` (parameters dropped), lower case.
pub(crate) fn valid_content_type(field: &str, value: &str) -> Result<String, FieldProblem> {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let token = |part: &str| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) && essence.len() <= 127 => Ok(essence),
        _ => Err(FieldProblem::new(
            field,
            "must be a media type such as image/png",
        )),
    }
}

/// What the caller asks of an upload.
#[derive(Debug, Clone)]
pub struct NewFile {
    pub name: String,
    pub content_type: String,
    /// From `Content-Length`, when the client sent one: refused early if too large.
    pub declared_size: Option<u64>,
}

/// A completion's lease on a presigned upload: the upload, and when the lease runs out
/// (which also tells it from the claim of a completion that took over after it).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Claim {
    pub upload: FileId,
    pub until: DateTime<Utc>,
}

/// A file being downloaded: its row and its bytes.
pub struct FileDownload {
    pub file: StoredFile,
    pub read: BlobRead,
}

/// Which files to list, oldest first; `PageQuery` says which page.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FileFilter {
    /// Only names starting with this.
    pub prefix: Option<String>,
    /// `image/png` exactly, or a family such as `image/`.
    pub content_type: Option<String>,
}

impl Tenancy {
    /// Streams `body` into the store, then records the file — or, if the org ran out of
    /// quota meanwhile, removes the object again.
    pub async fn upload_file<S, E>(
        &self,
        access: &OrgAccess,
        new: NewFile,
        body: S,
        request: &RequestMeta,
    ) -> Result<StoredFile, TenancyError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let name = valid_name("name", &new.name).map_err(|p| TenancyError::Invalid(vec![p]))?;
        let content_type = valid_content_type("content_type", &new.content_type)
            .map_err(|p| TenancyError::Invalid(vec![p]))?;
        let budget = self.budget(access, new.declared_size).await?;
        let id = FileId::new();
        let key = object_key(access.org_id(), id, None);
        let stored = ingest(&self.blob, &key, &content_type, budget, body).await?;
        let file = stored_file(
            id,
            name,
            content_type,
            stored.size,
            stored.sha256,
            access.accountable_user(),
        );
        self.record_file(access, &file, None, request).await?;
        Ok(file)
    }

    /// Writes the row of an object stored under its final key (closing the presigned
    /// upload it came from, whose reservation it takes over, if `claim` still holds it),
    /// under the org's lock, unless the org was deleted meanwhile. A refusal or failure before the commit removes the object —
    /// its key is this upload's, or this completion's, alone: no object stays without a
    /// row. A failed commit leaves it — the row may exist — to the sweep.
    async fn record_file(
        &self,
        access: &OrgAccess,
        file: &StoredFile,
        claim: Option<Claim>,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let prepared = async {
            let mut unit = self.write(access.scope()).await?;
            unit.lock_org().await?;
            // The org may have been deleted while the bytes streamed: nothing is written
            // into it then, as its other routes refuse (404).
            if unit.org().await?.deleted_at.is_some() {
                return Err(TenancyError::NotFound);
            }
            if let Some(claim) = claim
                && !(unit.hold_upload(claim.upload, claim.until, Utc::now()).await?
                    && unit.delete_upload(claim.upload).await?)
            {
                return Err(TenancyError::Conflict(
                    "upload_completing",
                    "Another request completed this upload or took it over.".to_owned(),
                ));
            }
            self.check_quota(unit.as_mut(), file.size).await?;
            unit.insert_file(file).await?;
            let event = access.event(
                "file.uploaded",
                Some(("file", file.id.to_string())),
                request,
                serde_json::json!({"size": file.size, "content_type": file.content_type, "sha256": file.sha256}),
            );
            Ok((unit, Change::new(OrgStale::Nothing, event)))
        }
        .await;
        match prepared {
            Ok((unit, change)) => Ok(unit.commit(change).await?),
            Err(refused) => {
                self.discard(&file_key(access.org_id(), file)).await;
                Err(refused)
            }
        }
    }

    pub async fn file(&self, access: &OrgAccess, id: FileId) -> Result<StoredFile, TenancyError> {
        Ok(self.store.read_org(access.scope()).await?.file(id).await?)
    }

    /// Files oldest first, filtered by name prefix and content type (`image/` for a family).
    pub async fn files(
        &self,
        access: &OrgAccess,
        page: &PageQuery,
        filter: &FileFilter,
    ) -> Result<Page<StoredFile>, TenancyError> {
        let query = FileQuery {
            name_prefix: filter.prefix.clone().filter(|p| !p.is_empty()),
            content_type: filter
                .content_type
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(str::to_ascii_lowercase),
            after: page.cursor.as_ref().map(Cursor::decode).transpose()?,
            limit: page.limit.fetch(),
        };
        let fetched = self
            .store
            .read_org(access.scope())
            .await?
            .files(&query)
            .await?;
        Ok(Page::of(fetched, page.limit, |last| {
            (last.created_at, last.id)
        }))
    }

    /// The bytes of `file` (a row `self.file` gave for the same access), or `range` of
    /// them (within the file: the caller checks). The key comes from the access's org, so
    /// no row can lead to another org's bytes.
    pub async fn download(
        &self,
        access: &OrgAccess,
        file: StoredFile,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<FileDownload, TenancyError> {
        // An empty file has no byte to range over; some stores refuse an empty range.
        let range = range.filter(|r| !r.is_empty());
        let read = match self
            .blob
            .read(&file_key(access.org_id(), &file), range)
            .await
        {
            Ok(read) => read,
            // A delete may have removed the row, then the object, since `file` was read:
            // the file is gone, as for any deleted file. Only an object missing under a row
            // that is still there means the store lost it.
            Err(BlobError::NotFound) => {
                self.file(access, file.id).await?;
                return Err(unavailable(BlobError::NotFound));
            }
            Err(error) => return Err(unavailable(error)),
        };
        Ok(FileDownload { file, read })
    }

    /// Removes bytes no row describes; the sweep retries what this cannot.
    async fn discard(&self, key: &str) {
        if let Err(error) = self.blob.delete(key).await {
            tracing::warn!(%error, "removing an object no row describes; the sweep will retry");
        }
    }

    /// Removes the row, then the object; the sweep removes the object if this process
    /// stops between the two.
    pub async fn delete_file(
        &self,
        access: &OrgAccess,
        id: FileId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let mut unit = self.write(access.scope()).await?;
        let file = unit.file(id).await?;
        if !unit.delete_file(id).await? {
            return Err(TenancyError::NotFound);
        }
        let event = access.event(
            "file.deleted",
            Some(("file", id.to_string())),
            request,
            serde_json::json!({"name": file.name, "size": file.size}),
        );
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        if let Err(error) = self.blob.delete(&file_key(access.org_id(), &file)).await {
            tracing::warn!(%error, "removing a deleted file's object; the sweep will retry");
        }
        Ok(())
    }
}

/// The row of a file just stored (a presigned upload's then names its claim).
fn stored_file(
    id: FileId,
    name: String,
    content_type: String,
    size: u64,
    sha256: String,
    created_by: tenantbase_domain::id::UserId,
) -> StoredFile {
    StoredFile {
        id,
        name,
        size,
        content_type,
        sha256,
        created_by,
        created_at: now_micros(),
        upload_claim: None,
    }
}
