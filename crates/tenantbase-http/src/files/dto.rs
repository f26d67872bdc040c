//! Bodies and views of the file routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tenantbase_domain::model::StoredFile;
use utoipa::{IntoParams, ToSchema};

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct FileView {
    /// `fil_…`
    pub id: String,
    pub name: String,
    /// Bytes.
    pub size: u64,
    pub content_type: String,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
    pub created_at: DateTime<Utc>,
    /// `usr_…`
    pub created_by: String,
}

impl From<StoredFile> for FileView {
    fn from(file: StoredFile) -> Self {
        Self {
            id: file.id.to_string(),
            name: file.name,
            size: file.size,
            content_type: file.content_type,
            sha256: file.sha256,
            created_at: file.created_at,
            created_by: file.created_by.to_string(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadParams {
    /// The file's name: for a raw (non-multipart) body, its only name; for a multipart
    /// body, it takes the place of the part's file name.
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PresignBody {
    pub name: String,
    pub content_type: String,
    /// Exact size in bytes the upload will have.
    pub size: u64,
    /// Hex SHA-256 the bytes must have (checked on completion).
    pub sha256: Option<String>,
    /// Seconds the URL stays valid: 1–3600, default 900.
    pub expires_in: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PresignedUploadView {
    /// `fil_…`: the file's id once the upload completes.
    pub upload_id: String,
    /// `PUT`.
    pub method: &'static str,
    pub url: String,
    /// Headers to send with the PUT. Its `content-type` is the type announced here, which
    /// the file gets; to change it, presign anew. The local store does not read the PUT's
    /// own type. S3 and Azure keep it and serve it on download URLs, so there completion
    /// refuses a PUT that declared another one (415 `content_type_mismatch`; PUT again
    /// with these headers).
    pub headers: serde_json::Value,
    pub expires_at: DateTime<Utc>,
    /// POST here once the PUT succeeded (for the local store the PUT already registers
    /// the file; completing it again returns it).
    pub complete_url: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PresignDownloadBody {
    /// Seconds the URL stays valid: 1–604800, default 3600.
    pub expires_in: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct PresignedDownloadView {
    pub url: String,
    pub expires_at: DateTime<Utc>,
}
