//! `files.sweep`: removes objects nothing refers to — a file's object without its row
//! (a process stopped between storing and recording, or between deleting a row and its
//! object), and staged presigned uploads that are no longer open (never completed, or a
//! PUT replayed after completion) — and, on the local folder, staged writes a crash or a
//! shutdown's deadline abandoned. Only what is older than the grace period goes, so
//! uploads in flight are never touched.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
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
    /// `org/{org}/{file}`: kept while the file's row exists.
    Files,
    /// `uploads/{org}/{upload}`: kept while the presigned upload is open.
    Staging,
}

/// `org/{org_id}/{file_id}` or `uploads/{org_id}/{file_id}` → its space and ids.
fn parse_key(key: &str) -> Option<(Space, OrgId, FileId)> {
    let mut parts = key.split('/');
    let space = match parts.next()? {
        "org" => Space::Files,
        "uploads" => Space::Staging,
        _ => return None,
    };
    match (parts.next(), parts.next(), parts.next()) {
        (Some(org), Some(file), None) => Some((space, org.parse().ok()?, file.parse().ok()?)),
        _ => None,
    }
}

impl SweepFiles {
    /// The old enough objects of both spaces, by org.
    async fn candidates(&self) -> Result<BTreeMap<(OrgId, Space), Vec<FileId>>, JobError> {
        let cutoff = Utc::now() - chrono::Duration::from_std(self.grace).unwrap_or_default();
        let mut found: BTreeMap<(OrgId, Space), Vec<FileId>> = BTreeMap::new();
        for prefix in ["org", "uploads"] {
            let mut listing = self.blob.list(prefix);
            while let Some(meta) = listing.next().await {
                let meta = meta.map_err(retry)?;
                if meta.last_modified >= cutoff {
                    continue;
                }
                match parse_key(&meta.key) {
                    Some((space, org, file)) => found.entry((org, space)).or_default().push(file),
                    None => {
                        tracing::warn!(key = %meta.key, "an object outside the file key scheme")
                    }
                }
            }
        }
        Ok(found)
    }

    /// Of `ids` in `space`, those nothing refers to: no file row for a file's object, no
    /// open upload for a staged one (a PUT replayed after completion lands there too).
    async fn orphans(
        &self,
        org: OrgId,
        space: Space,
        ids: &[FileId],
    ) -> Result<Vec<FileId>, StoreError> {
        let mut unit = self.store.read_org(&Tenancy::system_scope(org)).await?;
        let mut orphans = Vec::new();
        match space {
            Space::Files => {
                for batch in ids.chunks(BATCH) {
                    let known = unit.existing_files(batch).await?;
                    orphans.extend(batch.iter().filter(|id| !known.contains(id)));
                }
            }
            Space::Staging => {
                for id in ids {
                    match unit.upload(*id).await {
                        Ok(upload) if upload.expires_at > Utc::now() => {}
                        Ok(_) | Err(StoreError::NotFound) => orphans.push(*id),
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
        for ((org, space), ids) in self.candidates().await? {
            for id in self.orphans(org, space, &ids).await.map_err(retry)? {
                let key = match space {
                    Space::Files => super::object_key(org, id),
                    Space::Staging => super::staging_key(org, id),
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
        assert_eq!(
            parse_key(&format!("org/{org}/{file}")),
            Some((Space::Files, org, file))
        );
        assert_eq!(
            parse_key(&format!("uploads/{org}/{file}")),
            Some((Space::Staging, org, file))
        );
        assert_eq!(parse_key(&format!("org/{org}/{file}/x")), None);
        assert_eq!(parse_key(&format!("audit/{org}/{file}")), None);
        assert_eq!(parse_key("org/nope/also"), None);
    }
}
