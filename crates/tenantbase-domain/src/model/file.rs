//! Files of an org as described by their rows (the bytes live in the object store), and
//! presigned uploads on their way to becoming files.

use chrono::{DateTime, Utc};

use crate::id::{FileId, UserId};

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
    /// For a presigned upload, the claim (by the end of its lease) of the completion that
    /// moved the bytes to their key, which names it; `None` for a direct upload.
    pub upload_claim: Option<DateTime<Utc>>,
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
