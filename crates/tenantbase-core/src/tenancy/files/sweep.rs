//! `files.sweep`: removes objects nothing refers to — a file's object without its row
//! (a process stopped between storing and recording, or between deleting a row and its
//! object; a completion's copy that landed after its lease ran out), and staged presigned
//! uploads that are no longer open (never completed, cancelled, or a PUT replayed after
//! completion) — and, on the local folder, staged writes a crash or a shutdown's deadline
//! abandoned.
//! Only what is older than the grace period goes, so uploads in flight are never touched.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use tenantbase_blob::BlobStore;
use tenantbase_domain::OrgId;
use tenantbase_domain::id::FileId;
use tenantbase_store::{Store, StoreError};

use crate::jobs::{JobContext, JobError, JobHandler};
use crate::tenancy::Tenancy;

/// Ids checked per statement.
const BATCH: usize = 500;

pub struct SweepFiles {
    pub store: Arc<dyn Store>,
    pub blob: BlobStore,
    pub grace: Duration,
}

impl SweepFiles {
    pub const KIND: &'static str = "files.sweep";
}

fn retry(error: impl std::fmt::Display) -> JobError {
    JobError::Retry(error.to_string())
}

/// Which of the two key spaces an object is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Space {
    /// `org/{org}/{file}[.{claim}]`: kept while the file's row names it.
    Files,
    /// `uploads/{org}/{upload}`: kept while the presigned upload is open.
    Staging,
}

/// An object of an org, by the ids its key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Found {
    file: FileId,
    /// The claim a presigned upload's completion named its copy by (`object_key`).
    claim: Option<DateTime<Utc>>,
}

/// `org/{org_id}/{file_id}[.{claim}]` or `uploads/{org_id}/{file_id}` → its space, org
/// and ids.
fn parse_key(key: &str) -> Option<(Space, OrgId, Found)> {
    let mut parts = key.split('/');
    let space = match parts.next()? {
        "org" => Space::Files,
        "uploads" => Space::Staging,
        _ => return None,
    };
    let (Some(org), Some(name), None) = (parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    let (file, claim) = match (space, name.split_once('.')) {
        (_, None) => (name, None),
        (Space::Files, Some((file, micros))) => (
            file,
            Some(DateTime::from_timestamp_micros(micros.parse().ok()?)?),
        ),
        (Space::Staging, Some(_)) => return None,
    };
    let found = Found {
        file: file.parse().ok()?,
        claim,
    };
    Some((space, org.parse().ok()?, found))
}

impl SweepFiles {
    /// The old enough objects of both spaces, by org.
    async fn candidates(&self) -> Result<BTreeMap<(OrgId, Space), Vec<Found>>, JobError> {
        let cutoff = Utc::now() - chrono::Duration::from_std(self.grace).unwrap_or_default();
        let mut found: BTreeMap<(OrgId, Space), Vec<Found>> = BTreeMap::new();
        for prefix in ["org", "uploads"] {
            let mut listing = self.blob.list(prefix);
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(retry)?;
                if meta.last_modified >= cutoff {
                    continue;
                }
                match parse_key(&meta.key) {
                    Some((space, org, object)) => {
                        found.entry((org, space)).or_default().push(object)
                    }
                    None => {
                        tracing::warn!(key = %meta.key, "an object outside the file key scheme")
                    }
                }
            }
        }
        Ok(found)
    }

    /// Of `objects` in `space`, those nothing refers to: no file row naming a file's
    /// object (a row names one key: its claim's, or none), no open upload for a staged one
    /// (a PUT replayed after completion lands there too).
    async fn orphans(
        &self,
        org: OrgId,
        space: Space,
        objects: &[Found],
    ) -> Result<Vec<Found>, StoreError> {
        let mut unit = self.store.read_org(&Tenancy::system_scope(org)).await?;
        let mut orphans = Vec::new();
        match space {
            Space::Files => {
                for batch in objects.chunks(BATCH) {
                    let ids: Vec<FileId> = batch.iter().map(|object| object.file).collect();
                    let known = unit.existing_files(&ids).await?;
                    orphans.extend(
                        batch
                            .iter()
                            .filter(|object| !known.contains(&(object.file, object.claim))),
                    );
                }
            }
            Space::Staging => {
                for object in objects {
                    match unit.upload(object.file).await {
                        Ok(upload) if upload.expires_at > Utc::now() => {}
                        Ok(_) | Err(StoreError::NotFound) => orphans.push(*object),
                        Err(other) => return Err(other),
                    }
                }
            }
        }
        Ok(orphans)
    }
}

#[async_trait]
impl JobHandler for SweepFiles {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    async fn run(&self, _job: &JobContext) -> Result<(), JobError> {
        let mut removed = 0u64;
        for ((org, space), objects) in self.candidates().await? {
            for object in self.orphans(org, space, &objects).await.map_err(retry)? {
                let key = match space {
                    Space::Files => super::object_key(org, object.file, object.claim),
                    Space::Staging => super::staging_key(org, object.file),
                };
                self.blob.delete(&key).await.map_err(retry)?;
                removed += 1;
            }
        }
        let mut abandoned = 0u64;
        for prefix in ["org", "uploads"] {
            abandoned += self
                .blob
                .remove_abandoned_writes(prefix, self.grace)
                .await
                .map_err(retry)?;
        }
        tracing::info!(removed, abandoned, "file sweep done");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_file_keys_parse() {
        let (org, file) = (OrgId::new(), FileId::new());
        let plain = Found { file, claim: None };
        assert_eq!(
            parse_key(&format!("org/{org}/{file}")),
            Some((Space::Files, org, plain))
        );
        let claim = DateTime::from_timestamp_micros(1_767_225_600_123_456);
        assert_eq!(
            parse_key(&super::super::object_key(org, file, claim)),
            Some((Space::Files, org, Found { file, claim }))
        );
        assert_eq!(
            parse_key(&format!("uploads/{org}/{file}")),
            Some((Space::Staging, org, plain))
        );
        assert_eq!(parse_key(&format!("uploads/{org}/{file}.1")), None);
        assert_eq!(parse_key(&format!("org/{org}/{file}.soon")), None);
        assert_eq!(parse_key(&format!("org/{org}/{file}/x")), None);
        assert_eq!(parse_key(&format!("audit/{org}/{file}")), None);
        assert_eq!(parse_key("org/nope/also"), None);
    }
}
