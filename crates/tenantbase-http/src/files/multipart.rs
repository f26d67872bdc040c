//! `multipart/form-data` uploads that stream: the first part with a file name becomes the
//! file. What is not file data — the preamble, other parts, part headers — may take at
//! most `OVERHEAD_BYTES` of the body, so a body whose boundary never comes cannot make
//! the parser hold more and more of it in memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Body;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use crate::{ApiError, FieldError};

/// Bytes of a multipart body allowed besides the file's own.
const OVERHEAD_BYTES: u64 = 64 * 1024;

/// The file part of a form: its name, declared type and bytes.
pub(crate) struct FilePart {
    pub name: String,
    pub content_type: Option<String>,
    pub data: futures::stream::BoxStream<'static, Result<Bytes, multer::Error>>,
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
    let received = Arc::new(AtomicU64::new(0));
    let delivered = Arc::new(AtomicU64::new(0));
    let metered = {
        let (received, delivered) = (received.clone(), delivered.clone());
        body.into_data_stream().map(move |chunk| {
            let chunk =
                chunk.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)?;
            let total =
                received.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
            // The parser may hold the chunk it is given; beyond that, only overhead.
            let held = total.saturating_sub(delivered.load(Ordering::Relaxed));
            if held > OVERHEAD_BYTES + chunk.len() as u64 {
                return Err(Box::new(std::io::Error::other(format!(
                    "more than {OVERHEAD_BYTES} bytes besides the file"
                )))
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(chunk)
        })
    };
    let mut form = multer::Multipart::new(metered, boundary);
    loop {
        let field = form.next_field().await.map_err(bad)?.ok_or_else(|| {
            ApiError::validation(vec![FieldError {
                field: "file".to_owned(),
                message: "no part with a file name".to_owned(),
            }])
        })?;
        let Some(name) = field.file_name().map(str::to_owned) else {
            continue;
        };
        let content_type = field.content_type().map(ToString::to_string);
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
