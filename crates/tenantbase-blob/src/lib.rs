//! Object storage for tenantbase: one `BlobStore` over the `object_store` crate. The
//! embedded default keeps objects in a local folder; S3 and Azure Blob join it later.

use std::path::Path;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The marker object that readiness checks look for; written when the store opens.
const PROBE_KEY: &str = "_health/probe";

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("object store folder {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// A handle to the object store; cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
}

impl BlobStore {
    /// Objects as files under `root`, which is created if missing.
    pub async fn local(root: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(root).map_err(|source| BlobError::Folder {
            path: root.display().to_string(),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(root)?;
        let blob = Self {
            inner: Arc::new(store),
        };
        blob.inner
            .put(&ObjectPath::from(PROBE_KEY), PutPayload::from_static(b"ok"))
            .await?;
        Ok(blob)
    }

    /// Stores `bytes` under `key` (`audit/org_…/…`), replacing what was there.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.inner
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// The whole object under `key`.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        let object = self.inner.get(&ObjectPath::from(key)).await?;
        Ok(object.bytes().await?.to_vec())
    }

    /// Whether the store answers: reads the probe object's metadata.
    pub async fn ping(&self) -> Result<(), BlobError> {
        self.inner.head(&ObjectPath::from(PROBE_KEY)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_round_trip() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blob = BlobStore::local(dir.path()).await.expect("open");
        blob.put("audit/a/1.bin", vec![1, 2, 3]).await.expect("put");
        assert_eq!(blob.get("audit/a/1.bin").await.expect("get"), vec![1, 2, 3]);
        assert!(blob.get("audit/a/missing").await.is_err());
    }

    #[tokio::test]
    async fn local_store_answers_until_its_folder_goes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("files");
        let blob = BlobStore::local(&root).await.expect("open");
        blob.ping().await.expect("answers");
        std::fs::remove_dir_all(&root).expect("remove folder");
        assert!(blob.ping().await.is_err());
    }
}
