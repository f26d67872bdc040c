//! `[files]`: where org files live (local folder, S3, Azure Blob) and their limits.

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tenantbase_blob::{AzureConfig, BlobConfig, S3Config};
use tenantbase_core::identity::tokens::MasterKey;
use tenantbase_core::tenancy::files::FilePolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilesBackend {
    /// `<data_dir>/files` (the default).
    Local,
    S3,
    Azure,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FilesConfig {
    pub backend: FilesBackend,
    /// Bytes each org may store.
    pub quota_bytes: u64,
    /// Bytes the orgs one user created may store together.
    pub quota_bytes_per_creator: u64,
    /// Largest single file, in bytes.
    pub max_file_bytes: u64,
    /// Base URL of this API as clients reach it, for the presigned URLs of the local
    /// store; unset: `http://<listen>`.
    pub public_url: Option<String>,
    /// Objects without a row are swept once older than this.
    pub orphan_grace_minutes: u64,
    pub s3: S3Settings,
    pub azure: AzureSettings,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            backend: FilesBackend::Local,
            quota_bytes: 10 << 30,
            quota_bytes_per_creator: 20 << 30,
            max_file_bytes: 5 << 30,
            public_url: None,
            orphan_grace_minutes: 120,
            s3: S3Settings::default(),
            azure: AzureSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Settings {
    pub bucket: String,
    pub region: String,
    /// For S3-compatible servers (MinIO, …); unset is AWS.
    pub endpoint: Option<String>,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    /// Bucket in the path rather than the host name (MinIO wants this).
    pub path_style: bool,
}

impl Default for S3Settings {
    fn default() -> Self {
        Self {
            bucket: String::new(),
            region: "us-east-1".to_owned(),
            endpoint: None,
            access_key_id: String::new(),
            secret_access_key: SecretString::from(String::new()),
            path_style: false,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AzureSettings {
    pub account: String,
    pub access_key: SecretString,
    pub container: String,
    /// For Azurite: `http://127.0.0.1:10000/devstoreaccount1`; unset is Azure.
    pub endpoint: Option<String>,
}

impl FilesConfig {
    /// The object store these settings name.
    pub fn blob_config(&self, data_dir: &Path) -> anyhow::Result<BlobConfig> {
        Ok(match self.backend {
            FilesBackend::Local => BlobConfig::Local {
                root: data_dir.join("files"),
            },
            FilesBackend::S3 => {
                let s3 = &self.s3;
                if s3.bucket.is_empty() {
                    anyhow::bail!(
                        "invalid configuration: files.s3.bucket is required for files.backend = \"s3\""
                    );
                }
                BlobConfig::S3(S3Config {
                    bucket: s3.bucket.clone(),
                    region: s3.region.clone(),
                    endpoint: s3.endpoint.clone(),
                    access_key_id: s3.access_key_id.clone(),
                    secret_access_key: s3.secret_access_key.expose_secret().to_owned(),
                    path_style: s3.path_style,
                })
            }
            FilesBackend::Azure => {
                let azure = &self.azure;
                if azure.account.is_empty() || azure.container.is_empty() {
                    anyhow::bail!(
                        "invalid configuration: files.azure.account and files.azure.container are required for files.backend = \"azure\""
                    );
                }
                BlobConfig::Azure(AzureConfig {
                    account: azure.account.clone(),
                    access_key: azure.access_key.expose_secret().to_owned(),
                    container: azure.container.clone(),
                    endpoint: azure.endpoint.clone(),
                })
            }
        })
    }

    /// Limits and URL signing for the tenancy layer; the signing key comes from the
    /// master key, so every replica signs and verifies alike.
    pub fn policy(&self, master: &MasterKey, listen: std::net::SocketAddr) -> FilePolicy {
        FilePolicy {
            quota_bytes: self.quota_bytes,
            creator_quota_bytes: self.quota_bytes_per_creator,
            max_file_bytes: self.max_file_bytes,
            url_key: master.derive("tenantbase/files/presigned-urls"),
            public_url: self
                .public_url
                .clone()
                .unwrap_or_else(|| format!("http://{listen}")),
        }
    }
}
