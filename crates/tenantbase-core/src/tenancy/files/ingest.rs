//! Streams a request body into the object store: hashing it, counting it against the
//! byte budget, and checking its head against the declared type before any byte is
//! stored. Memory stays at a few multipart parts whatever the size.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tenantbase_blob::{BlobStore, BlobWriter};

use super::sniff::{SNIFF_BYTES, mismatch};
use super::{FileRefusal, unavailable};
use crate::tenancy::TenancyError;

/// How many bytes an upload may hold, and which refusal exceeding it earns.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    pub bytes: u64,
    pub over: FileRefusal,
}

/// What was stored.
#[derive(Debug, Clone)]
pub(crate) struct Ingested {
    pub size: u64,
    pub sha256: String,
}

/// Writes `body` under `key`, complete or not at all.
pub(crate) async fn ingest<S, E>(
    blob: &BlobStore,
    key: &str,
    content_type: &str,
    budget: Budget,
    body: S,
) -> Result<Ingested, TenancyError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut writer = blob.writer(key).await.map_err(unavailable)?;
    match copy(&mut writer, content_type, &budget, body).await {
        Ok(ingested) => {
            writer.finish().await.map_err(unavailable)?;
            Ok(ingested)
        }
        Err(error) => {
            if let Err(abort) = writer.abort().await {
                tracing::warn!(error = %abort, "aborting a refused upload");
            }
            Err(error)
        }
    }
}

async fn copy<S, E>(
    writer: &mut BlobWriter,
    content_type: &str,
    budget: &Budget,
    mut body: S,
) -> Result<Ingested, TenancyError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    // The head is held back until the signature check has seen enough of it.
    let mut head = Some(BytesMut::new());
    loop {
        let chunk = match tokio::time::timeout(super::UPLOAD_IDLE_LIMIT, body.next()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(error))) => {
                tracing::info!(%error, "upload body ended early");
                return Err(TenancyError::File(FileRefusal::Interrupted));
            }
            Err(_) => {
                tracing::info!("upload body stalled");
                return Err(TenancyError::File(FileRefusal::Interrupted));
            }
            Ok(None) => break,
        };
        size += chunk.len() as u64;
        if size > budget.bytes {
            return Err(TenancyError::File(budget.over.clone()));
        }
        hasher.update(&chunk);
        match head.as_mut() {
            Some(buffer) => {
                buffer.extend_from_slice(&chunk);
                if buffer.len() >= SNIFF_BYTES {
                    let held = head.take().unwrap_or_default().freeze();
                    release(writer, content_type, held).await?;
                }
            }
            None => writer.write(chunk).await.map_err(unavailable)?,
        }
    }
    if let Some(held) = head {
        release(writer, content_type, held.freeze()).await?;
    }
    Ok(Ingested {
        size,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Checks the head against the declared type, then stores it.
async fn release(
    writer: &mut BlobWriter,
    content_type: &str,
    head: Bytes,
) -> Result<(), TenancyError> {
    if let Some(found) = mismatch(content_type, &head) {
        return Err(TenancyError::File(FileRefusal::TypeMismatch {
            declared: content_type.to_owned(),
            found,
        }));
    }
    writer.write(head).await.map_err(unavailable)
}
