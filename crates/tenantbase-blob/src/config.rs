//! Which object store to open, and how.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::signer::Signer;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use crate::BlobError;

/// Where objects live.
#[derive(Debug, Clone)]
pub enum BlobConfig {
    /// Files under a folder (the embedded default). Uploads are written beside their
    /// destination and renamed into place when complete, so a crash leaves no half-file.
    Local { root: PathBuf },
    /// Amazon S3 or an S3-compatible server (MinIO, moto…).
    S3(S3Config),
    /// Azure Blob Storage or the Azurite emulator.
    Azure(AzureConfig),
    /// In process memory, for tests.
    Memory,
}

#[derive(Clone, Default)]
pub struct S3Config {
    pub bucket: String,
    pub region: String,
    /// For S3-compatible servers; `None` is AWS.
    pub endpoint: Option<String>,
    /// Empty: the provider chain (environment, instance profile, web identity) supplies
    /// credentials.
    pub access_key_id: String,
    pub secret_access_key: String,
    /// `bucket` in the path (`endpoint/bucket/key`), as MinIO and most compatible servers
    /// want, rather than in the host name.
    pub path_style: bool,
}

#[derive(Clone, Default)]
pub struct AzureConfig {
    pub account: String,
    /// Empty: managed identity or the environment supplies credentials.
    pub access_key: String,
    pub container: String,
    /// For Azurite: `http://127.0.0.1:10000/devstoreaccount1`; `None` is Azure.
    pub endpoint: Option<String>,
}

/// Never prints a secret.
impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("path_style", &self.path_style)
            .finish_non_exhaustive()
    }
}

/// Never prints a secret.
impl std::fmt::Debug for AzureConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureConfig")
            .field("account", &self.account)
            .field("container", &self.container)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// A store that does not answer fails the request in seconds (the caller answers 503)
/// instead of retrying for minutes.
fn client_behaviour() -> (ClientOptions, RetryConfig) {
    // No limit on a whole response: a download streams as fast as its client reads, and
    // large objects take minutes. Requests are bounded by the HTTP layer's timeouts.
    let options = ClientOptions::new()
        .with_allow_http(true)
        .with_connect_timeout(Duration::from_secs(3))
        .with_timeout_disabled()
        // …but a connection that stops sending fails: the limit restarts with every read.
        .with_read_timeout(Duration::from_secs(30));
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
    };
    (options, retry)
}

/// The opened store.
pub(crate) struct Opened {
    pub store: Arc<dyn ObjectStore>,
    /// Where the store signs URLs natively.
    pub signer: Option<Arc<dyn Signer>>,
    /// The local folder's store, whose streamed writes `local_write` makes.
    pub local: Option<Arc<LocalFileSystem>>,
}

impl Opened {
    fn remote<S: ObjectStore + Signer>(store: S) -> Self {
        let store = Arc::new(store);
        Self {
            store: store.clone(),
            signer: Some(store),
            local: None,
        }
    }
}

impl BlobConfig {
    pub(crate) fn open(&self) -> Result<Opened, BlobError> {
        let (options, retry) = client_behaviour();
        Ok(match self {
            BlobConfig::Local { root } => {
                std::fs::create_dir_all(root).map_err(|source| BlobError::Folder {
                    path: root.display().to_string(),
                    source,
                })?;
                // Synced before the rename that publishes it: a file's row is written only
                // after its object, and must not outlive it through a power cut.
                let store = Arc::new(LocalFileSystem::new_with_prefix(root)?.with_fsync(true));
                Opened {
                    store: store.clone(),
                    signer: None,
                    local: Some(store),
                }
            }
            BlobConfig::S3(s3) => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_virtual_hosted_style_request(!s3.path_style)
                    .with_client_options(options)
                    .with_retry(retry);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if !s3.access_key_id.is_empty() {
                    builder = builder
                        .with_access_key_id(&s3.access_key_id)
                        .with_secret_access_key(&s3.secret_access_key);
                }
                Opened::remote(builder.build()?)
            }
            BlobConfig::Azure(azure) => {
                let mut builder = MicrosoftAzureBuilder::new()
                    .with_account(&azure.account)
                    .with_container_name(&azure.container)
                    .with_client_options(options)
                    .with_retry(retry);
                if let Some(endpoint) = &azure.endpoint {
                    builder = builder.with_endpoint(endpoint.clone());
                }
                if !azure.access_key.is_empty() {
                    builder = builder.with_access_key(&azure.access_key);
                }
                Opened::remote(builder.build()?)
            }
            BlobConfig::Memory => Opened {
                store: Arc::new(InMemory::new()),
                signer: None,
                local: None,
            },
        })
    }
}
