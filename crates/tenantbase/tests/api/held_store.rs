//! The local object store with the calls on one key held until the test lets each go: a
//! `head` waits after reading (its caller has not seen the answer yet), a `move` — a copy
//! or rename from the key, as a completion moves staged bytes — waits before acting (it
//! lands when let go, however late). Tests drive races between the store and the
//! database with it, step by step.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions, Result,
};
use tenantbase_blob::BlobStore;
use tokio::sync::{mpsc, oneshot};

use crate::helpers::REQUEST_DEADLINE;

/// A call on the watched key, waiting for [`HeldCall::go`].
pub struct HeldCall {
    pub op: &'static str,
    go: oneshot::Sender<()>,
}

impl HeldCall {
    pub fn go(self) {
        // A caller that gave up no longer waits: nothing to let go.
        let _ = self.go.send(());
    }
}

/// The test's end: which key is watched, and its calls as they arrive.
pub struct Holds {
    watched: Arc<Mutex<Option<Path>>>,
    calls: mpsc::UnboundedReceiver<HeldCall>,
}

impl Holds {
    /// Holds the calls on `key` from now on.
    pub fn watch(&self, key: &str) {
        *self.watched.lock().expect("watched") = Some(Path::from(key));
    }

    /// The next held call, which must be `op`.
    pub async fn next(&mut self, op: &str) -> HeldCall {
        let call = tokio::time::timeout(REQUEST_DEADLINE, self.calls.recv())
            .await
            .unwrap_or_else(|_| panic!("no {op} of the watched key came"))
            .expect("the store is open");
        assert_eq!(
            call.op, op,
            "the calls on the watched key came in another order"
        );
        call
    }
}

/// A local store in `root` whose calls on the watched key wait for the test.
pub fn held_store(root: &std::path::Path) -> (BlobStore, Holds) {
    std::fs::create_dir_all(root).expect("store folder");
    let (sender, calls) = mpsc::unbounded_channel();
    let watched = Arc::new(Mutex::new(None));
    let store = Holding {
        inner: LocalFileSystem::new_with_prefix(root).expect("local store"),
        watched: watched.clone(),
        calls: sender,
    };
    let holds = Holds { watched, calls };
    (BlobStore::from_store(Arc::new(store)), holds)
}

#[derive(Debug)]
struct Holding {
    inner: LocalFileSystem,
    watched: Arc<Mutex<Option<Path>>>,
    calls: mpsc::UnboundedSender<HeldCall>,
}

impl std::fmt::Display for Holding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Holding({})", self.inner)
    }
}

impl Holding {
    /// Waits for the test if `location` is the watched key.
    async fn hold(&self, op: &'static str, location: &Path) {
        if self.watched.lock().expect("watched").as_ref() != Some(location) {
            return;
        }
        let (go, wait) = oneshot::channel();
        if self.calls.send(HeldCall { op, go }).is_ok() {
            // The test dropped the call without letting it go: go on all the same.
            let _ = wait.await;
        }
    }
}

#[async_trait]
impl ObjectStore for Holding {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let head = options.head;
        let got = self.inner.get_opts(location, options).await;
        if head {
            self.hold("head", location).await;
        }
        got
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.hold("move", from).await;
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.hold("move", from).await;
        self.inner.rename_opts(from, to, options).await
    }
}
