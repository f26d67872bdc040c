//! Presigned uploads and downloads: opening an upload (its size reserved against the
//! quota), completing it from its staging key, and download URLs. S3 and Azure sign their
//! own URLs; the local store's are grants served at `/v1/blobs/{token}` (`grants`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use tenantbase_blob::{BlobError, BlobStore};
use tenantbase_domain::id::FileId;
use tenantbase_domain::model::{FileUpload, RequestMeta, StoredFile};

use super::grants::{GrantMethod, Signer};
use super::sniff::{SNIFF_BYTES, mismatch};
use super::{
    Claim, FileRefusal, file_key, object_key, staging_key, stored_file, unavailable,
    valid_content_type, valid_name,
};
use crate::tenancy::access::OrgAccess;
use crate::tenancy::cache::OrgStale;
use crate::tenancy::{FieldProblem, Tenancy, TenancyError, limit_reached, limits, now_micros};
use crate::write::Change;

/// Longest an upload URL stays valid.
const UPLOAD_TTL_MAX: Duration = Duration::from_secs(3600);
/// Longest a download URL stays valid (S3's limit for signed URLs).
const DOWNLOAD_TTL_MAX: Duration = Duration::from_secs(7 * 86_400);
const UPLOAD_TTL_DEFAULT: Duration = Duration::from_secs(900);
const DOWNLOAD_TTL_DEFAULT: Duration = Duration::from_secs(3600);
/// How long one completion holds an upload: ample to copy and hash 5 GiB.
const COMPLETION_LEASE: chrono::Duration = chrono::Duration::minutes(30);

/// A presigned upload to open.
#[derive(Debug, Clone)]
pub struct UploadRequest {
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// Hex SHA-256 the bytes must have.
    pub sha256: Option<String>,
    pub expires_in: Option<u64>,
    /// Problems found in the body already (a member of the wrong type, an absent field):
    /// refused with the fields' own, so one answer names every field.
    pub refused: Vec<FieldProblem>,
}

#[derive(Debug, Clone)]
pub struct PresignedUpload {
    pub upload: FileUpload,
    pub method: &'static str,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct PresignedDownload {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}

fn ttl(asked: Option<u64>, default: Duration, max: Duration) -> Result<Duration, FieldProblem> {
    match asked {
        None => Ok(default),
        Some(secs) if (1..=max.as_secs()).contains(&secs) => Ok(Duration::from_secs(secs)),
        Some(_) => Err(FieldProblem::new(
            "expires_in",
            format!("must be between 1 and {} seconds", max.as_secs()),
        )),
    }
}

fn valid_sha256(value: &str) -> Result<String, FieldProblem> {
    let lower = value.to_ascii_lowercase();
    if lower.len() == 64 && lower.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(lower)
    } else {
        Err(FieldProblem::new("sha256", "must be 64 hex digits"))
    }
}

impl Tenancy {
    /// A URL for `method` on `file`, whose bytes are (or go) under `key`: the store's
    /// own, or a local one.
    async fn presigned_url(
        &self,
        access: &OrgAccess,
        method: GrantMethod,
        file: FileId,
        key: &str,
        ttl: Duration,
        expires_at: DateTime<Utc>,
    ) -> Result<String, TenancyError> {
        let store_method = match method {
            GrantMethod::Get => tenantbase_blob::Method::GET,
            GrantMethod::Put => tenantbase_blob::Method::PUT,
        };
        match self
            .blob
            .signed_url(store_method, key, ttl)
            .await
            .map_err(unavailable)?
        {
            Some(url) => Ok(url),
            None => {
                let token = self.sign_grant(
                    method,
                    access.org_id(),
                    file,
                    Signer::of(access),
                    expires_at,
                );
                let base = self.policy.files.public_url.trim_end_matches('/');
                Ok(format!("{base}/v1/blobs/{token}"))
            }
        }
    }

    /// Opens an upload the client sends straight to the store; its size counts against the
    /// quota until it completes or expires.
    pub async fn presign_upload(
        &self,
        access: &OrgAccess,
        asked: UploadRequest,
        request: &RequestMeta,
    ) -> Result<PresignedUpload, TenancyError> {
        let mut problems = Vec::new();
        let name = valid_name("name", &asked.name)
            .map_err(|p| problems.push(p))
            .ok();
        let content_type = valid_content_type("content_type", &asked.content_type)
            .map_err(|p| problems.push(p))
            .ok();
        let sha256 = asked
            .sha256
            .as_deref()
            .map(valid_sha256)
            .transpose()
            .map_err(|p| problems.push(p))
            .ok()
            .flatten();
        let ttl = ttl(asked.expires_in, UPLOAD_TTL_DEFAULT, UPLOAD_TTL_MAX)
            .map_err(|p| problems.push(p))
            .ok();
        if let Some(max) = self.blob.presigned_put_max()
            && asked.size > max
        {
            problems.push(FieldProblem::new(
                "size",
                format!("a presigned upload may hold at most {max} bytes here; upload larger files directly"),
            ));
        }
        let checked = match (name, content_type, ttl) {
            (Some(name), Some(content_type), Some(ttl)) if problems.is_empty() => {
                Ok((name, content_type, ttl))
            }
            _ => Err(TenancyError::Invalid(problems)),
        };
        let (name, content_type, ttl) = TenancyError::after_refused(asked.refused, checked)?;
        self.budget(access, Some(asked.size)).await?;
        let now = now_micros();
        let expires_at = now + chrono::Duration::from_std(ttl).unwrap_or_default();
        let upload = FileUpload {
            id: FileId::new(),
            name,
            size: asked.size,
            content_type,
            sha256,
            created_by: access.accountable_user(),
            created_at: now,
            expires_at,
        };
        let staging = staging_key(access.org_id(), upload.id);
        let url = self
            .presigned_url(
                access,
                GrantMethod::Put,
                upload.id,
                &staging,
                ttl,
                expires_at,
            )
            .await?;
        let mut unit = self.write(access.scope()).await?;
        // Under the org's lock: concurrent presigns cannot reserve more than the quota.
        unit.lock_org().await?;
        // Expired uploads go as new ones come, so an org's table holds what is open.
        unit.prune_uploads(now).await?;
        if unit.open_uploads(now).await? >= limits::OPEN_UPLOADS as u64 {
            return Err(limit_reached(
                "open presigned uploads",
                limits::OPEN_UPLOADS,
            ));
        }
        self.check_quota(unit.as_mut(), upload.size).await?;
        unit.insert_upload(&upload).await?;
        let event = access.event(
            "file.upload_presigned",
            Some(("file", upload.id.to_string())),
            request,
            serde_json::json!({"size": upload.size, "expires_at": upload.expires_at}),
        );
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(PresignedUpload {
            upload,
            method: "PUT",
            url,
        })
    }

    /// Cancels an open upload: its row goes, and with it its reservation against the
    /// quota and its place among the org's open uploads; then, best effort, its staged
    /// bytes (the sweep removes what this leaves, and what a store's own URL still takes
    /// until it expires). Refused while a completion holds it; completed or expired, it
    /// is no open upload (404).
    pub async fn cancel_upload(
        &self,
        access: &OrgAccess,
        id: FileId,
        request: &RequestMeta,
    ) -> Result<(), TenancyError> {
        let now = now_micros();
        let mut unit = self.write(access.scope()).await?;
        let upload = unit.upload(id).await?;
        if upload.expires_at <= now {
            return Err(TenancyError::NotFound);
        }
        if !unit.cancel_upload(id, now).await? {
            return Err(TenancyError::Conflict(
                "upload_completing",
                "A request is completing this upload; it can be cancelled only if that fails."
                    .to_owned(),
            ));
        }
        let event = access.event(
            "file.upload_cancelled",
            Some(("file", id.to_string())),
            request,
            serde_json::json!({"size": upload.size}),
        );
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        self.discard(&staging_key(access.org_id(), id)).await;
        Ok(())
    }

    /// The open upload `id`, or 404 (also once it expired).
    pub(super) async fn open_upload(
        &self,
        access: &OrgAccess,
        id: FileId,
    ) -> Result<FileUpload, TenancyError> {
        let upload = self
            .store
            .read_org(access.scope())
            .await?
            .upload(id)
            .await?;
        if upload.expires_at <= Utc::now() {
            return Err(TenancyError::NotFound);
        }
        Ok(upload)
    }

    /// Registers a presigned upload the store received. One completion at a time holds
    /// the upload (a lease in its row, so its bytes stay reserved against the quota): it
    /// copies the staged bytes to a key of its own (`object_key`), checks them there —
    /// size, promised hash, signature — and writes the file row in the transaction that
    /// closes the upload; the staged bytes go once the file is recorded. Refused bytes are
    /// removed from its key and the upload stays open for another PUT; a failure gives the
    /// lease back so a retry can finish from the staged bytes. Completing a completed
    /// upload returns its file.
    pub async fn complete_upload(
        &self,
        access: &OrgAccess,
        id: FileId,
        request: &RequestMeta,
    ) -> Result<StoredFile, TenancyError> {
        let upload = match self.open_upload(access, id).await {
            Err(TenancyError::NotFound) => return self.completed_upload(access, id).await,
            other => other?,
        };
        match self.blob.head(&staging_key(access.org_id(), id)).await {
            Ok(meta) if meta.size == upload.size => {}
            Ok(meta) => {
                // The wrong bytes stay: they are not this completion's to remove. The client
                // may be replacing them with the right ones meanwhile, for a completion of
                // its own; its next PUT replaces them, or the sweep removes them once the
                // upload is closed.
                return Err(TenancyError::invalid(
                    "size",
                    format!(
                        "{} bytes were announced, {} arrived",
                        upload.size, meta.size
                    ),
                ));
            }
            Err(missing) => return Err(not_staged(missing)),
        }
        // Microseconds, as the databases keep it: the claim's end also identifies it.
        let now = now_micros();
        let claim = Claim {
            upload: id,
            until: now + COMPLETION_LEASE,
        };
        let mut unit = self.store.begin_org(access.scope()).await?;
        let claimed = unit.claim_upload(id, now, claim.until).await?;
        unit.commit().await?;
        if !claimed {
            return Err(TenancyError::Conflict(
                "upload_completing",
                "Another request is completing this upload; retry shortly.".to_owned(),
            ));
        }
        let completed = self.finish_upload(access, upload, claim, request).await;
        if completed.is_err() {
            let released = async {
                let mut unit = self.store.begin_org(access.scope()).await?;
                unit.release_upload(id, claim.until).await?;
                unit.commit().await
            };
            if let Err(error) = released.await {
                tracing::warn!(%error, "giving back an upload's claim; it runs out by itself");
            }
        }
        completed
    }

    /// The file a completed upload became. Only a completion's row names a claim: a file
    /// uploaded directly was no upload, so its id is none's to complete (404). (Rows
    /// recorded before migration 0021 name none either; their uploads' URLs are long dead.)
    async fn completed_upload(
        &self,
        access: &OrgAccess,
        id: FileId,
    ) -> Result<StoredFile, TenancyError> {
        let file = self.file(access, id).await?;
        if file.upload_claim.is_none() {
            return Err(TenancyError::NotFound);
        }
        Ok(file)
    }

    /// The claimed part of a completion: copy, check, record. The copy's key is the
    /// claim's alone, so whatever lands there — however late — is this completion's to
    /// remove, and no other's bytes: one that outran its lease cannot replace the object
    /// of the file a later completion recorded.
    async fn finish_upload(
        &self,
        access: &OrgAccess,
        upload: FileUpload,
        claim: Claim,
        request: &RequestMeta,
    ) -> Result<StoredFile, TenancyError> {
        let staging = staging_key(access.org_id(), upload.id);
        let key = object_key(access.org_id(), upload.id, Some(claim.until));
        self.blob.copy(&staging, &key).await.map_err(not_staged)?;
        let sha256 = match self.check_arrival(&key, &upload).await {
            Ok(sha256) => sha256,
            Err(refused) => {
                self.discard(&key).await;
                return Err(refused);
            }
        };
        let file = StoredFile {
            upload_claim: Some(claim.until),
            ..stored_file(
                upload.id,
                upload.name,
                upload.content_type,
                upload.size,
                sha256,
                upload.created_by,
            )
        };
        self.record_file(access, &file, Some(claim), request)
            .await?;
        // Recorded: the upload is closed, and what is staged (these bytes, or a PUT
        // replayed since) is nobody's.
        self.discard(&staging).await;
        Ok(file)
    }

    /// The SHA-256 of the bytes under `key` if they are what `upload` announced.
    async fn check_arrival(&self, key: &str, upload: &FileUpload) -> Result<String, TenancyError> {
        // S3 and Azure keep the type the PUT declared (their presigned PUT does not sign
        // it), the copy keeps it, and their presigned GETs serve it: it must be the
        // announced one, or a download could serve, say, `text/html` for an image.
        let stored = self
            .blob
            .stored_content_type(key)
            .await
            .map_err(unavailable)?;
        if let Some(stored) = stored
            && !same_media_type(&stored, &upload.content_type)
        {
            return Err(TenancyError::File(FileRefusal::TypeMismatch {
                declared: upload.content_type.clone(),
                found: stored,
            }));
        }
        let (sha256, size, head) = digest(&self.blob, key).await?;
        if size != upload.size {
            return Err(TenancyError::invalid(
                "size",
                "the stored bytes changed size",
            ));
        }
        if upload
            .sha256
            .as_ref()
            .is_some_and(|promised| *promised != sha256)
        {
            return Err(TenancyError::invalid(
                "sha256",
                "the bytes that arrived have another SHA-256",
            ));
        }
        if let Some(found) = mismatch(&upload.content_type, &head) {
            return Err(TenancyError::File(FileRefusal::TypeMismatch {
                declared: upload.content_type.clone(),
                found,
            }));
        }
        Ok(sha256)
    }

    /// A URL anyone holding it may GET the file from until it expires.
    pub async fn presign_download(
        &self,
        access: &OrgAccess,
        id: FileId,
        expires_in: Option<u64>,
        request: &RequestMeta,
    ) -> Result<PresignedDownload, TenancyError> {
        let ttl = ttl(expires_in, DOWNLOAD_TTL_DEFAULT, DOWNLOAD_TTL_MAX)
            .map_err(|p| TenancyError::Invalid(vec![p]))?;
        let key = file_key(access.org_id(), &self.file(access, id).await?);
        let expires_at = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
        // Signed before the unit opens: a store's signer may fetch credentials over the
        // network, and the unit holds, on SQLite, the one writer.
        let url = self
            .presigned_url(access, GrantMethod::Get, id, &key, ttl, expires_at)
            .await?;
        let mut unit = self.write(access.scope()).await?;
        // Deleted meanwhile: no URL leaves, and none is on record. (A file's key never
        // changes once it is recorded.)
        unit.file(id).await?;
        // The URL is a credential anyone holding it may use: who made one is on record.
        let event = access.event(
            "file.download_presigned",
            Some(("file", id.to_string())),
            request,
            serde_json::json!({"expires_at": expires_at}),
        );
        unit.commit(Change::new(OrgStale::Nothing, event)).await?;
        Ok(PresignedDownload { url, expires_at })
    }
}

/// Why the staged bytes could not be read: none arrived yet, or the store failed.
fn not_staged(error: BlobError) -> TenancyError {
    match error {
        BlobError::NotFound => TenancyError::Conflict(
            "upload_incomplete",
            "Nothing has been uploaded to this URL yet.".to_owned(),
        ),
        other => unavailable(other),
    }
}

/// Whether two `Content-Type` values name one media type: parameters (`charset`) aside,
/// case-insensitively.
fn same_media_type(a: &str, b: &str) -> bool {
    fn essence(value: &str) -> &str {
        value.split(';').next().unwrap_or("").trim()
    }
    essence(a).eq_ignore_ascii_case(essence(b))
}

/// SHA-256, size and first bytes of a stored object, read as a stream.
async fn digest(blob: &BlobStore, key: &str) -> Result<(String, u64, Vec<u8>), TenancyError> {
    let mut body = blob.read(key, None).await.map_err(unavailable)?.body;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(unavailable)?;
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok((hex::encode(hasher.finalize()), size, head))
}

#[cfg(test)]
mod tests {
    use super::same_media_type;

    #[test]
    fn media_types_compare_without_parameters_or_case() {
        assert!(same_media_type("image/png", "image/png"));
        assert!(same_media_type("Text/HTML; charset=utf-8", "text/html"));
        assert!(!same_media_type("text/html", "image/png"));
        assert!(!same_media_type("", "image/png"));
    }
}
