//! `multipart/form-data` uploads that stream: the first part with a file name becomes the
//! file. What is not file data — the preamble, other parts, part headers — may take a
//! few chunks and `OVERHEAD_BYTES` of the body, so a body whose boundary never comes
//! cannot make the parser hold more and more of it in memory.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderValue, header};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use tenantbase_core::tenancy::files::UPLOAD_IDLE_LIMIT;

use crate::{ApiError, FieldError};

/// Bytes of a multipart body allowed besides the file's own.
const OVERHEAD_BYTES: u64 = 64 * 1024;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The file part of a form: its name, declared type and bytes.
pub(crate) struct FilePart {
    pub name: String,
    /// The part's `Content-Type` as sent: `multer`'s parsed one is `None` for a type it
    /// cannot parse as well as for a missing one.
    pub content_type: Option<HeaderValue>,
    pub data: futures::stream::BoxStream<'static, Result<Bytes, multer::Error>>,
}

/// The body as the parser sees it: one chunk per poll (`multer` reads every chunk that is
/// ready before it hands file data on), each counted. Between two hand-overs of file
/// data the parser may take a few chunks — to skip a part, read the file part's headers,
/// look for a boundary — but once it has taken more than `PULLS_WITHOUT_DATA` of them and
/// holds more than `OVERHEAD_BYTES`, the body is not what a form looks like.
struct Metered {
    body: Pin<Box<dyn Stream<Item = Result<Bytes, axum::Error>> + Send>>,
    paused: bool,
    received: u64,
    /// File bytes handed on (counted by the file part's stream).
    delivered: Arc<AtomicU64>,
    delivered_seen: u64,
    pulls_without_data: u32,
}

/// Chunks the parser may take between two hand-overs of file data.
const PULLS_WITHOUT_DATA: u32 = 4;

impl Stream for Metered {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.paused {
            self.paused = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let chunk = match self.body.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            Poll::Ready(Some(Err(error))) => return Poll::Ready(Some(Err(Box::new(error)))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        self.paused = true;
        self.received += chunk.len() as u64;
        let delivered = self.delivered.load(Ordering::Relaxed);
        if delivered > self.delivered_seen {
            self.delivered_seen = delivered;
            self.pulls_without_data = 0;
        }
        self.pulls_without_data += 1;
        let held = self.received.saturating_sub(delivered);
        if self.pulls_without_data > PULLS_WITHOUT_DATA && held > OVERHEAD_BYTES {
            let error =
                std::io::Error::other(format!("more than {OVERHEAD_BYTES} bytes besides the file"));
            return Poll::Ready(Some(Err(Box::new(error))));
        }
        Poll::Ready(Some(Ok(chunk)))
    }
}

fn bad(error: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(
        "bad_multipart",
        format!("The multipart body is malformed: {error}"),
    )
}

/// Finds the first part with a file name in `body` (`content_type` carries the boundary).
pub(crate) async fn file_part(body: Body, content_type: &str) -> Result<FilePart, ApiError> {
    let boundary = multer::parse_boundary(content_type).map_err(bad)?;
    let delivered = Arc::new(AtomicU64::new(0));
    let metered = Metered {
        body: Box::pin(body.into_data_stream()),
        paused: false,
        received: 0,
        delivered: delivered.clone(),
        delivered_seen: 0,
        pulls_without_data: 0,
    };
    let mut form = multer::Multipart::new(metered, boundary);
    loop {
        let next = tokio::time::timeout(UPLOAD_IDLE_LIMIT, form.next_field())
            .await
            .map_err(|_| bad("no part arrived in time"))?;
        let field = next.map_err(bad)?.ok_or_else(|| {
            ApiError::validation(vec![FieldError {
                field: "file".to_owned(),
                message: "no part with a file name".to_owned(),
            }])
        })?;
        let Some(name) = field.file_name().map(str::to_owned) else {
            continue;
        };
        let content_type = field.headers().get(header::CONTENT_TYPE).cloned();
        let delivered = delivered.clone();
        let data = field
            .inspect_ok(move |chunk| {
                delivered.fetch_add(chunk.len() as u64, Ordering::Relaxed);
            })
            .boxed();
        return Ok(FilePart {
            name,
            content_type,
            data,
        });
    }
}
