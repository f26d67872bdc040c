//! Object storage for tenantbase: one `BlobStore` over the `object_store` crate — a local
//! folder (the embedded default), S3 and S3-compatible servers, Azure Blob, or memory.
//! Writes stream through `BlobWriter` (multipart; on the local folder, direct writes to a
//! staged file), reads stream back, ranged or whole.

mod config;
mod local_write;

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{
    Attribute, GetOptions, GetRange, GetResultPayload, ObjectStore, ObjectStoreExt, PutPayload,
    WriteMultipart,
};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use local_write::LocalWriter;

pub use config::{AzureConfig, BlobConfig, S3Config};
pub use object_store::signer::Method;

/// The marker object that readiness checks look for; written when the store opens.
pub const PROBE_KEY: &str = "_health/probe";
/// Bytes per multipart part: the S3 minimum, so memory per upload stays a few parts.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts in flight per upload before `write` waits.
const PARTS_IN_FLIGHT: usize = 2;
/// Bytes per read of a local file.
const READ_BLOCK: usize = 256 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("no such object")]
    NotFound,
    #[error("object store: {0}")]
    Store(object_store::Error),
    #[error("reading a stored file: {0}")]
    Read(std::io::Error),
    #[error("writing a stored file: {0}")]
    Write(std::io::Error),
    #[error("object store folder {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl From<object_store::Error> for BlobError {
    fn from(error: object_store::Error) -> Self {
        match error {
            object_store::Error::NotFound { .. } => BlobError::NotFound,
            other => BlobError::Store(other),
        }
    }
}

/// What `head` and `list` say of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub size: u64,
    pub last_modified: chrono::DateTime<chrono::Utc>,
}

/// An object being read: which bytes come, of how many, and the stream of them.
pub struct BlobRead {
    pub size: u64,
    pub range: Range<u64>,
    pub body: BoxStream<'static, Result<Bytes, BlobError>>,
}

/// A handle to the object store; cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    /// Present where the store signs URLs itself (S3, Azure).
    signer: Option<Arc<dyn Signer>>,
    /// The same store as `inner` where it is the local folder, for streamed writes.
    local: Option<Arc<LocalFileSystem>>,
    kind: StoreKind,
}

/// What a store's own URLs need of their clients.
#[derive(Debug, Clone, Copy)]
enum StoreKind {
    S3,
    Azure,
    Other,
}

impl BlobStore {
    /// Opens the configured store and writes the readiness probe.
    pub async fn open(config: &BlobConfig) -> Result<Self, BlobError> {
        let opened = config.open()?;
        let kind = match config {
            BlobConfig::S3(_) => StoreKind::S3,
            BlobConfig::Azure(_) => StoreKind::Azure,
            _ => StoreKind::Other,
        };
        let blob = Self {
            inner: opened.store,
            signer: opened.signer,
            local: opened.local,
            kind,
        };
        blob.put(PROBE_KEY, b"ok".to_vec()).await?;
        Ok(blob)
    }

    /// Objects as files under `root`, which is created if missing.
    pub async fn local(root: &Path) -> Result<Self, BlobError> {
        Self::open(&BlobConfig::Local {
            root: root.to_path_buf(),
        })
        .await
    }

    /// A store over any `object_store` store: it signs no URLs (tenantbase serves them, as
    /// for the local folder) and streams writes as multipart uploads. For wrappers that
    /// watch or hold a store's calls, as tests do; `open` needs no such help.
    pub fn from_store(store: Arc<dyn ObjectStore>) -> Self {
        Self {
            inner: store,
            signer: None,
            local: None,
            kind: StoreKind::Other,
        }
    }

    /// Stores `bytes` under `key` (`audit/org_…/…`), replacing what was there.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), BlobError> {
        self.inner
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await?;
        Ok(())
    }

    /// The whole object under `key`, in memory: for small objects only.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        let object = self.inner.get(&ObjectPath::from(key)).await?;
        Ok(object.bytes().await?.to_vec())
    }

    /// Starts a streamed write of `key`; nothing is visible under it until `finish`.
    pub async fn writer(&self, key: &str) -> Result<BlobWriter, BlobError> {
        let key = ObjectPath::from(key);
        if let Some(local) = &self.local {
            let file = LocalWriter::create(local.path_to_filesystem(&key)?)
                .await
                .map_err(BlobError::Write)?;
            return Ok(BlobWriter(Writer::Local(file)));
        }
        let upload = self.inner.put_multipart(&key).await?;
        Ok(BlobWriter(Writer::Multipart(
            WriteMultipart::new_with_chunk_size(upload, PART_BYTES),
        )))
    }

    /// Streams `key`, or the bytes `range` of it; the caller keeps `range` within the
    /// object (stores differ in how they refuse one that is not).
    pub async fn read(&self, key: &str, range: Option<Range<u64>>) -> Result<BlobRead, BlobError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let object = self.inner.get_opts(&ObjectPath::from(key), options).await?;
        let (size, range) = (object.meta.size, object.range.clone());
        let body = match object.payload {
            GetResultPayload::File(file, _) => file_stream(file, range.clone()),
            GetResultPayload::Stream(stream) => stream.map_err(BlobError::from).boxed(),
        };
        Ok(BlobRead { size, range, body })
    }

    /// Copies `from` to `to`, replacing what was there (a hard link on the local folder, a
    /// server-side copy on S3 and Azure).
    pub async fn copy(&self, from: &str, to: &str) -> Result<(), BlobError> {
        self.inner
            .copy(&ObjectPath::from(from), &ObjectPath::from(to))
            .await?;
        Ok(())
    }

    /// Largest object a single presigned PUT may create here (and the store copy the
    /// completion makes may move): `None` where there is no such limit (local folder).
    pub fn presigned_put_max(&self) -> Option<u64> {
        match self.kind {
            StoreKind::S3 => Some(5 << 30),
            StoreKind::Azure => Some(5000 << 20),
            StoreKind::Other => None,
        }
    }

    /// Headers a client must send with a PUT to this store's presigned URLs.
    pub fn presigned_put_headers(&self) -> &'static [(&'static str, &'static str)] {
        match self.kind {
            StoreKind::Azure => &[("x-ms-blob-type", "BlockBlob")],
            StoreKind::S3 | StoreKind::Other => &[],
        }
    }

    /// The `Content-Type` the store itself keeps with `key` and serves on its own URLs:
    /// on S3 and Azure whatever the PUT that wrote it declared; `None` where the store
    /// keeps none (local folder, memory), without touching the object: a local file may
    /// be one whose open waits (a named pipe).
    pub async fn stored_content_type(&self, key: &str) -> Result<Option<String>, BlobError> {
        if matches!(self.kind, StoreKind::Other) {
            return Ok(None);
        }
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let object = self.inner.get_opts(&ObjectPath::from(key), options).await?;
        Ok(object
            .attributes
            .get(&Attribute::ContentType)
            .map(|value| value.as_ref().to_owned()))
    }

    pub async fn head(&self, key: &str) -> Result<BlobMeta, BlobError> {
        let meta = self.inner.head(&ObjectPath::from(key)).await?;
        Ok(to_meta(meta))
    }

    /// Removes `key`; removing what is not there succeeds.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(other) => Err(other.into()),
        }
    }

    /// Every object under `prefix` (a folder: `org/org_…`), in no particular order.
    pub fn list(&self, prefix: &str) -> BoxStream<'static, Result<BlobMeta, BlobError>> {
        self.inner
            .list(Some(&ObjectPath::from(prefix)))
            .map(|meta| meta.map(to_meta).map_err(BlobError::from))
            .boxed()
    }

    /// Removes the streamed writes under `prefix` that were abandoned (a crash, a
    /// shutdown's deadline) and not touched for `idle`; how many went. Only the local
    /// folder keeps such staged files; an object store's unfinished multipart uploads are
    /// its own lifecycle rules' to expire.
    pub async fn remove_abandoned_writes(
        &self,
        prefix: &str,
        idle: Duration,
    ) -> Result<u64, BlobError> {
        let Some(local) = &self.local else {
            return Ok(0);
        };
        let folder = local.path_to_filesystem(&ObjectPath::from(prefix))?;
        let cutoff = std::time::SystemTime::now() - idle;
        tokio::task::spawn_blocking(move || local_write::remove_stale_staged(&folder, cutoff))
            .await
            .map_err(|e| BlobError::Write(std::io::Error::other(e)))?
            .map_err(BlobError::Write)
    }

    /// Removes every object under `prefix`; how many went.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64, BlobError> {
        let mut listing = self.list(prefix);
        let mut removed = 0;
        while let Some(meta) = listing.next().await {
            self.delete(&meta?.key).await?;
            removed += 1;
        }
        Ok(removed)
    }

    /// A URL the store itself honours for `method` on `key` until `expires_in` passes, or
    /// `None` where the store cannot sign (local folder, memory: tenantbase serves those).
    /// Neither S3 nor Azure lets a presigned PUT bind its length (object_store reserves a
    /// signed `content-length`): completion checks it.
    pub async fn signed_url(
        &self,
        method: Method,
        key: &str,
        expires_in: Duration,
    ) -> Result<Option<String>, BlobError> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = signer
            .signed_url(method, &ObjectPath::from(key), expires_in)
            .await?;
        Ok(Some(url.to_string()))
    }

    /// Whether the store answers: reads the probe object's metadata.
    pub async fn ping(&self) -> Result<(), BlobError> {
        self.inner.head(&ObjectPath::from(PROBE_KEY)).await?;
        Ok(())
    }
}

/// A local file's bytes in `range`, read in large blocks: `object_store` reads 8 KiB per
/// blocking call, which caps downloads far below what the disk gives.
fn file_stream(
    file: std::fs::File,
    range: Range<u64>,
) -> BoxStream<'static, Result<Bytes, BlobError>> {
    let opened = async move {
        let mut file = tokio::fs::File::from_std(file);
        // A read from the start needs no seek, which files that are not seekable (a
        // named pipe) would refuse.
        if range.start > 0 {
            file.seek(std::io::SeekFrom::Start(range.start)).await?;
        }
        Ok::<_, std::io::Error>(ReaderStream::with_capacity(
            file.take(range.end - range.start),
            READ_BLOCK,
        ))
    };
    futures::stream::once(opened)
        .try_flatten()
        .map_err(BlobError::Read)
        .boxed()
}

fn to_meta(meta: object_store::ObjectMeta) -> BlobMeta {
    BlobMeta {
        key: meta.location.to_string(),
        size: meta.size,
        last_modified: meta.last_modified,
    }
}

/// A streamed write in progress. Dropping it without `finish` leaves nothing visible;
/// `abort` also frees what the store kept of the parts.
pub struct BlobWriter(Writer);

enum Writer {
    /// Parts of an object store's multipart upload.
    Multipart(WriteMultipart),
    /// A staged file in the local folder.
    Local(LocalWriter),
}

impl BlobWriter {
    /// Appends `chunk`, waiting while earlier bytes are still being written (back-pressure
    /// keeps memory per upload at a few parts or blocks, whatever the object's size).
    pub async fn write(&mut self, chunk: Bytes) -> Result<(), BlobError> {
        match &mut self.0 {
            Writer::Multipart(upload) => {
                upload.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                upload.put(chunk);
            }
            Writer::Local(file) => file.write(&chunk).await.map_err(BlobError::Write)?,
        }
        Ok(())
    }

    /// Completes the object: from now on it is visible under its key, and (on the local
    /// folder) survives a power cut.
    pub async fn finish(self) -> Result<(), BlobError> {
        match self.0 {
            Writer::Multipart(upload) => {
                upload.finish().await?;
            }
            Writer::Local(file) => file.finish().await.map_err(BlobError::Write)?,
        }
        Ok(())
    }

    pub async fn abort(self) -> Result<(), BlobError> {
        match self.0 {
            Writer::Multipart(upload) => upload.abort().await?,
            Writer::Local(file) => file.abort().await.map_err(BlobError::Write)?,
        }
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
        assert_eq!(
            blob.stored_content_type("audit/a/1.bin")
                .await
                .expect("type"),
            None,
            "the local folder keeps no type"
        );
        assert!(matches!(
            blob.get("audit/a/missing").await,
            Err(BlobError::NotFound)
        ));
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

    async fn collect(read: BlobRead) -> Vec<u8> {
        let mut body = read.body;
        let mut bytes = Vec::new();
        while let Some(chunk) = body.next().await {
            bytes.extend_from_slice(&chunk.expect("chunk"));
        }
        bytes
    }

    #[tokio::test]
    async fn streamed_writes_appear_only_when_finished() {
        let dir = tempfile::tempdir().expect("temp dir");
        let blob = BlobStore::local(dir.path()).await.expect("open");
        let mut writer = blob.writer("org/a/f1").await.expect("writer");
        let part = Bytes::from(vec![7u8; 3 * 1024 * 1024]);
        writer.write(part.clone()).await.expect("write");
        writer.write(part).await.expect("write");
        assert!(matches!(
            blob.head("org/a/f1").await,
            Err(BlobError::NotFound)
        ));
        writer.finish().await.expect("finish");
        assert_eq!(
            blob.head("org/a/f1").await.expect("head").size,
            6 * 1024 * 1024
        );

        let abandoned = blob.writer("org/a/f2").await.expect("writer");
        abandoned.abort().await.expect("abort");
        let keys: Vec<String> = blob
            .list("org/a")
            .map(|m| m.expect("meta").key)
            .collect()
            .await;
        assert_eq!(keys, vec!["org/a/f1".to_owned()]);
    }

    #[tokio::test]
    async fn ranges_read_part_of_an_object() {
        let blob = BlobStore::open(&BlobConfig::Memory).await.expect("open");
        blob.put("dir/k", (0u8..100).collect()).await.expect("put");
        let read = blob.read("dir/k", Some(10..20)).await.expect("read");
        assert_eq!((read.size, read.range.clone()), (100, 10..20));
        assert_eq!(collect(read).await, (10u8..20).collect::<Vec<_>>());
        let whole = blob.read("dir/k", None).await.expect("read");
        assert_eq!(collect(whole).await.len(), 100);
        assert!(blob.read("dir/k", Some(200..300)).await.is_err());
        assert_eq!(blob.delete_prefix("dir").await.expect("purge"), 1);
        assert!(
            blob.signed_url(Method::GET, "dir/k", Duration::from_secs(1))
                .await
                .expect("sign")
                .is_none()
        );
    }
}
