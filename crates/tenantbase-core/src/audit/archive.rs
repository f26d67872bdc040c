//! Retention: events older than the configured age leave the database for the object
//! store as gzip-compressed JSON Lines, with a manifest carrying the hashes either side.
//! The chain keeps the last archived hash as its anchor, so what stays in the database
//! still verifies, and each archive verifies on its own from its manifest.
//!
//! An archive of the events after anchor `a` is stored in that anchor's folder,
//! `audit/{chain}/{a+1}/{last_seq}-{run}.jsonl.gz` beside `….manifest.json` (sequence
//! numbers zero-padded to 12 digits, `run` an id of the run's own). Runs that read the
//! same anchor (the scheduled job and `tenantbase audit archive`, with different
//! cutoffs) all store there, but the truncation is conditional on the anchor, so exactly
//! one moves it: that run removes every other archive in the folder, and a run that finds
//! the anchor moved removes its own. A run that stops between storing and truncating (a
//! crash) leaves its archive and the anchor where they were: the events are still in the
//! database, and the next run from that anchor removes the leftover when it truncates.
//! Each folder therefore ends up with one archive, the one the `audit.archived` event
//! names. Another is seen only while a run is under way, or where a removal failed (it
//! is logged) or a losing run crashed: it verifies too (its events are the chain's own),
//! but they are counted in the named archive, the next folders or the database, never
//! in it.

use std::io::{Read, Write};
use std::ops::ControlFlow;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tenantbase_blob::{BlobError, BlobMeta, BlobStore};
use tenantbase_domain::model::{Actor, ChainHead, Event, RequestMeta, Target};
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{Store, StoreError};
use uuid::Uuid;

use super::verify::{Break, REANCHOR_TRIES, Walker, chain_head, reanchored};
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::write::{Change, NoCache};

/// Events per archive object: bounds the memory one archive run takes.
const BATCH: usize = 10_000;
/// How an archive's object key ends; its manifest's ends in `.manifest.json` instead.
const OBJECT_SUFFIX: &str = ".jsonl.gz";

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
    /// Key of the compressed JSON Lines object (ends in `.jsonl.gz`).
    pub object: String,
    /// SHA-256 of that object, hex.
    pub object_sha256: String,
    pub created_at: DateTime<Utc>,
}

impl Manifest {
    /// Where this manifest is stored: beside its object.
    pub fn key(&self) -> String {
        let base = self
            .object
            .strip_suffix(OBJECT_SUFFIX)
            .unwrap_or(&self.object);
        format!("{base}.manifest.json")
    }
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
pub enum Batch {
    Archived(Manifest),
    /// No event is old enough.
    Nothing,
    /// Another run moved the chain's anchor since `head` was read: nothing was truncated,
    /// and what this run stored is removed again.
    Moved,
}

/// Archives up to `BATCH` old events from the start of one chain, in the three steps
/// that tests interleave to race two runs.
async fn archive_batch(
    store: &dyn Store,
    blob: &BlobStore,
    head: &ChainHead,
    cutoff: DateTime<Utc>,
) -> Result<Batch, ArchiveError> {
    let selected = match select_batch(store, head, cutoff).await? {
        ControlFlow::Continue(selected) => selected,
        ControlFlow::Break(batch) => return Ok(batch),
    };
    selected.write(blob).await?.truncate(store, blob).await
}

/// The old events a batch archives, read and verified, not yet stored.
pub struct Selected {
    head: ChainHead,
    events: Vec<Event>,
}

/// The first step of a batch: up to `BATCH` events after `head`'s anchor that occurred
/// before `cutoff`, verified from that anchor; or what the batch came to without them.
pub async fn select_batch(
    store: &dyn Store,
    head: &ChainHead,
    cutoff: DateTime<Utc>,
) -> Result<ControlFlow<Batch, Selected>, ArchiveError> {
    let page = store
        .events_after(&head.chain, head.anchor_seq, BATCH as u32)
        .await?;
    let old: Vec<Event> = page
        .into_iter()
        .take_while(|e| e.occurred_at < cutoff)
        .collect();
    if old.is_empty() {
        return Ok(ControlFlow::Break(Batch::Nothing));
    }
    // Never move a broken chain out of sight: verify what leaves.
    let mut walker = Walker::from_anchor(head.anchor_seq, head.anchor_hash.clone());
    for event in &old {
        if let Some((seq, problem)) = walker.step(event) {
            if let Break::Gap { expected_seq, .. } = problem
                && reanchored(store, head, expected_seq).await?.is_some()
            {
                return Ok(ControlFlow::Break(Batch::Moved));
            }
            return Err(ArchiveError::Broken {
                chain: head.chain.clone(),
                seq,
                problem,
            });
        }
    }
    Ok(ControlFlow::Continue(Selected {
        head: head.clone(),
        events: old,
    }))
}

impl Selected {
    /// The second step: stores the events and their manifest. The events start right
    /// after the anchor, so every run from one anchor writes into one folder; each names
    /// its objects by a run id of its own, so no run overwrites, or removes, another's.
    pub async fn write(self, blob: &BlobStore) -> Result<Written, ArchiveError> {
        // Never empty: `select_batch` ends the batch when no event is old enough.
        let (first, last) = (&self.events[0], &self.events[self.events.len() - 1]);
        let compressed = compress(&self.events)?;
        let folder = anchor_folder(&self.head.chain, first.seq);
        let base = format!("{folder}/{:012}-{}", last.seq, Uuid::now_v7().simple());
        let manifest = Manifest {
            chain: self.head.chain.clone(),
            first_seq: first.seq,
            last_seq: last.seq,
            events: self.events.len() as u64,
            prev_hash: self.head.anchor_hash.clone(),
            last_hash: last.hash.clone(),
            object: format!("{base}{OBJECT_SUFFIX}"),
            object_sha256: hex::encode(Sha256::digest(&compressed)),
            created_at: Utc::now(),
        };
        let manifest_json =
            serde_json::to_vec_pretty(&manifest).map_err(|e| ArchiveError::Data(e.to_string()))?;
        // The manifest last: an object without one is a write that never finished.
        blob.put(&manifest.object, compressed).await?;
        blob.put(&manifest.key(), manifest_json).await?;
        Ok(Written {
            head: self.head,
            manifest,
        })
    }
}

/// A batch whose objects are stored while its events are still in the database.
pub struct Written {
    head: ChainHead,
    manifest: Manifest,
}

impl Written {
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The last step: the events leave the database if the anchor is still where this
    /// run started. Exactly one run moves the anchor from there, so exactly one archive
    /// in the anchor's folder counts: that run removes every other there (those of runs
    /// that lost to it or crashed before this step), and a run that loses removes its
    /// own. Both removals are best effort, after the database's unit has ended. On an
    /// error nothing is removed, as the commit may have happened.
    pub async fn truncate(
        self,
        store: &dyn Store,
        blob: &BlobStore,
    ) -> Result<Batch, ArchiveError> {
        if !self.commit(store).await? {
            remove_objects(blob, &[self.manifest.key(), self.manifest.object.clone()]).await;
            return Ok(Batch::Moved);
        }
        remove_others(blob, &self.manifest).await;
        tracing::info!(chain = %self.head.chain, first_seq = self.manifest.first_seq, last_seq = self.manifest.last_seq, "archived audit events");
        Ok(Batch::Archived(self.manifest))
    }

    /// Truncates the chain and records, in the same transaction, that its events were
    /// archived; `false` when another run moved the anchor first (nothing changes).
    async fn commit(&self, store: &dyn Store) -> Result<bool, ArchiveError> {
        let manifest = &self.manifest;
        let mut unit = crate::write::Write::new(store.begin().await?, NoCache);
        let truncated = unit
            .truncate_chain(
                &self.head.chain,
                self.head.anchor_seq,
                manifest.last_seq,
                &manifest.last_hash,
            )
            .await?;
        if truncated.is_none() {
            return Ok(false);
        }
        let event = NewEvent {
            org_id: None,
            event_type: "audit.archived".to_owned(),
            actor: Actor::System,
            target: Some(Target {
                kind: "audit_chain".to_owned(),
                id: self.head.chain.clone(),
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
        Ok(true)
    }
}

/// The folder of the archives that start at `first_seq`, right after an anchor.
fn anchor_folder(chain: &str, first_seq: i64) -> String {
    format!("audit/{chain}/{first_seq:012}")
}

/// Removes every object in `kept`'s folder but `kept`'s own two.
async fn remove_others(blob: &BlobStore, kept: &Manifest) {
    let folder = anchor_folder(&kept.chain, kept.first_seq);
    let listed: Vec<BlobMeta> = match blob.list(&folder).try_collect().await {
        Ok(listed) => listed,
        Err(error) => {
            tracing::warn!(%folder, %error, "could not list superseded audit archives");
            return;
        }
    };
    let own = [kept.object.clone(), kept.key()];
    let others: Vec<String> = listed
        .into_iter()
        .map(|meta| meta.key)
        .filter(|key| !own.contains(key))
        .collect();
    remove_objects(blob, &others).await;
}

/// Removes `keys`, logging those that stay.
async fn remove_objects(blob: &BlobStore, keys: &[String]) {
    for key in keys {
        if let Err(error) = blob.delete(key).await {
            tracing::warn!(%key, %error, "could not remove a superseded audit archive object");
        }
    }
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
