//! Retention: events older than the configured age leave the database for the object
//! store as gzip-compressed JSON Lines, with a manifest carrying the hashes either side.
//! The chain keeps the last archived hash as its anchor, so what stays in the database
//! still verifies, and each archive verifies on its own from its manifest.

use std::io::{Read, Write};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tenantbase_blob::{BlobError, BlobStore};
use tenantbase_domain::model::{Actor, ChainHead, Event, RequestMeta, Target};
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{Store, StoreError};

use super::verify::{Break, REANCHOR_TRIES, Walker, chain_head, reanchored};
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::write::{Change, NoCache};

/// Events per archive object: bounds the memory one archive run takes.
const BATCH: usize = 10_000;

/// What an archive object holds, stored beside it as `….manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub chain: String,
    pub first_seq: i64,
    pub last_seq: i64,
    pub events: u64,
    /// The hash the first archived event links to (the chain's anchor before).
    pub prev_hash: String,
    /// The hash of the last archived event: the chain's anchor after.
    pub last_hash: String,
    /// Key of the compressed JSON Lines object.
    pub object: String,
    /// SHA-256 of that object, hex.
    pub object_sha256: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("archive data: {0}")]
    Data(String),
    #[error("chain {chain} is broken at seq {seq}: {problem:?}; archiving stopped")]
    Broken {
        chain: String,
        seq: i64,
        problem: Break,
    },
}

/// Archives, chain by chain, every event that occurred before `cutoff`.
pub async fn archive_before(
    store: &dyn Store,
    blob: &BlobStore,
    cutoff: DateTime<Utc>,
) -> Result<Vec<Manifest>, ArchiveError> {
    let mut manifests = Vec::new();
    for head in store.chain_heads().await? {
        manifests.extend(archive_chain(store, blob, head, cutoff).await?);
    }
    Ok(manifests)
}

/// Archives the events of one chain that occurred before `cutoff`, from the anchor of
/// `head` (read earlier; another run may have moved it since).
pub async fn archive_chain(
    store: &dyn Store,
    blob: &BlobStore,
    mut head: ChainHead,
    cutoff: DateTime<Utc>,
) -> Result<Vec<Manifest>, ArchiveError> {
    let mut manifests = Vec::new();
    let mut moves = 0;
    loop {
        match archive_batch(store, blob, &head, cutoff).await? {
            Batch::Archived(manifest) => {
                head.anchor_seq = manifest.last_seq;
                head.anchor_hash = manifest.last_hash.clone();
                manifests.push(manifest);
            }
            Batch::Nothing => break,
            // Another run archived from this chain meanwhile: go on from its anchor.
            Batch::Moved if moves + 1 < REANCHOR_TRIES => {
                moves += 1;
                match chain_head(store, &head.chain).await? {
                    Some(now) => head = now,
                    None => break,
                }
            }
            // It keeps moving: that run is archiving this chain.
            Batch::Moved => break,
        }
    }
    Ok(manifests)
}

/// What one batch of a chain came to.
enum Batch {
    Archived(Manifest),
    /// No event is old enough.
    Nothing,
    /// Another run moved the chain's anchor since `head` was read; nothing was truncated.
    Moved,
}

/// Archives up to `BATCH` old events from the start of one chain.
async fn archive_batch(
    store: &dyn Store,
    blob: &BlobStore,
    head: &ChainHead,
    cutoff: DateTime<Utc>,
) -> Result<Batch, ArchiveError> {
    let page = store
        .events_after(&head.chain, head.anchor_seq, BATCH as u32)
        .await?;
    let old: Vec<Event> = page
        .into_iter()
        .take_while(|e| e.occurred_at < cutoff)
        .collect();
    let (Some(first), Some(last)) = (old.first(), old.last()) else {
        return Ok(Batch::Nothing);
    };
    // Never move a broken chain out of sight: verify what leaves.
    let mut walker = Walker::from_anchor(head.anchor_seq, head.anchor_hash.clone());
    for event in &old {
        if let Some((seq, problem)) = walker.step(event) {
            if let Break::Gap { expected_seq, .. } = problem
                && reanchored(store, head, expected_seq).await?.is_some()
            {
                return Ok(Batch::Moved);
            }
            return Err(ArchiveError::Broken {
                chain: head.chain.clone(),
                seq,
                problem,
            });
        }
    }
    let compressed = compress(&old)?;
    let base = format!("audit/{}/{:012}-{:012}", head.chain, first.seq, last.seq);
    let manifest = Manifest {
        chain: head.chain.clone(),
        first_seq: first.seq,
        last_seq: last.seq,
        events: old.len() as u64,
        prev_hash: head.anchor_hash.clone(),
        last_hash: last.hash.clone(),
        object: format!("{base}.jsonl.gz"),
        object_sha256: hex::encode(Sha256::digest(&compressed)),
        created_at: Utc::now(),
    };
    let manifest_json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| ArchiveError::Data(e.to_string()))?;
    blob.put(&manifest.object, compressed).await?;
    blob.put(&format!("{base}.manifest.json"), manifest_json)
        .await?;
    // Only once both objects are stored do the events leave the database, and the
    // platform chain records that they did, in the same transaction.
    let mut unit = crate::write::Write::new(store.begin().await?, NoCache);
    if unit
        .truncate_chain(&head.chain, head.anchor_seq, last.seq, &last.hash)
        .await?
        .is_none()
    {
        // What this run stored duplicates what the other one archived (the same key
        // when both took the same events): it stays, as that one's may be it.
        return Ok(Batch::Moved);
    }
    let event = NewEvent {
        org_id: None,
        event_type: "audit.archived".to_owned(),
        actor: Actor::System,
        target: Some(Target {
            kind: "audit_chain".to_owned(),
            id: head.chain.clone(),
        }),
        request: RequestMeta::default(),
        payload: serde_json::json!({
            "first_seq": manifest.first_seq,
            "last_seq": manifest.last_seq,
            "last_hash": manifest.last_hash,
            "object": manifest.object,
        }),
    };
    unit.commit(Change::new((), event)).await?;
    tracing::info!(chain = %head.chain, first_seq = first.seq, last_seq = last.seq, "archived audit events");
    Ok(Batch::Archived(manifest))
}

fn compress(events: &[Event]) -> Result<Vec<u8>, ArchiveError> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    for event in events {
        serde_json::to_writer(&mut encoder, event)
            .map_err(|e| ArchiveError::Data(e.to_string()))?;
        encoder
            .write_all(b"\n")
            .map_err(|e| ArchiveError::Data(e.to_string()))?;
    }
    encoder
        .finish()
        .map_err(|e| ArchiveError::Data(e.to_string()))
}

/// Reads an archive back and checks it against its manifest: the object's checksum, and
/// the chain from `prev_hash` through every event to `last_hash`. Returns the events.
pub async fn read_archive(
    blob: &BlobStore,
    manifest_key: &str,
) -> Result<(Manifest, Vec<Event>), ArchiveError> {
    let manifest: Manifest = serde_json::from_slice(&blob.get(manifest_key).await?)
        .map_err(|e| ArchiveError::Data(e.to_string()))?;
    let compressed = blob.get(&manifest.object).await?;
    if hex::encode(Sha256::digest(&compressed)) != manifest.object_sha256 {
        return Err(ArchiveError::Data(format!(
            "{} does not match its checksum",
            manifest.object
        )));
    }
    let mut text = String::new();
    GzDecoder::new(compressed.as_slice())
        .read_to_string(&mut text)
        .map_err(|e| ArchiveError::Data(e.to_string()))?;
    let events: Vec<Event> = text
        .lines()
        .map(|line| serde_json::from_str(line).map_err(|e| ArchiveError::Data(e.to_string())))
        .collect::<Result<_, _>>()?;
    let mut walker = Walker::from_anchor(manifest.first_seq - 1, manifest.prev_hash.clone());
    for event in &events {
        if let Some((seq, problem)) = walker.step(event) {
            return Err(ArchiveError::Broken {
                chain: manifest.chain.clone(),
                seq,
                problem,
            });
        }
    }
    if walker.last_hash() != manifest.last_hash || events.len() as u64 != manifest.events {
        return Err(ArchiveError::Data(
            "archive does not end where its manifest says".to_owned(),
        ));
    }
    Ok((manifest, events))
}

/// `audit.archive`: the scheduled retention run.
pub struct ArchiveJob {
    pub store: std::sync::Arc<dyn Store>,
    pub blob: BlobStore,
    /// Events older than this are archived.
    pub retention: std::time::Duration,
}

impl ArchiveJob {
    pub const KIND: &'static str = "audit.archive";
}

#[async_trait]
impl JobHandler for ArchiveJob {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        let retention = chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        match archive_before(self.store.as_ref(), &self.blob, Utc::now() - retention).await {
            Ok(_) => Ok(()),
            Err(error @ ArchiveError::Broken { .. }) => Err(JobError::Fail(error.to_string())),
            Err(error) => Err(JobError::Retry(error.to_string())),
        }
    }
}
