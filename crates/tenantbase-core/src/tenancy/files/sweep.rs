//! `files.sweep`: removes objects that no file row describes — left by a process that
//! stopped between storing an object and recording it, or between deleting a row and
//! its object, or by a presigned upload never completed. Only objects older than the
//! grace period go, so uploads in flight are never touched.

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

/// `org/{org_id}/{file_id}` → the two ids.
fn parse_key(key: &str) -> Option<(OrgId, FileId)> {
    let mut parts = key.split('/');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some("org"), Some(org), Some(file), None) => Some((org.parse().ok()?, file.parse().ok()?)),
        _ => None,
    }
}

impl SweepFiles {
    /// The old enough objects under `org/`, by org.
    async fn candidates(&self) -> Result<BTreeMap<OrgId, Vec<FileId>>, JobError> {
        let cutoff = Utc::now() - chrono::Duration::from_std(self.grace).unwrap_or_default();
        let mut by_org: BTreeMap<OrgId, Vec<FileId>> = BTreeMap::new();
        let mut listing = self.blob.list("org");
        while let Some(meta) = listing.next().await {
            let meta = meta.map_err(retry)?;
            if meta.last_modified >= cutoff {
                continue;
            }
            match parse_key(&meta.key) {
                Some((org, file)) => by_org.entry(org).or_default().push(file),
                None => tracing::warn!(key = %meta.key, "an object outside the file key scheme"),
            }
        }
        Ok(by_org)
    }

    /// Of `ids`, those with neither a row nor an open upload.
    async fn orphans(&self, org: OrgId, ids: &[FileId]) -> Result<Vec<FileId>, StoreError> {
        let mut unit = self.store.read_org(&Tenancy::system_scope(org)).await?;
        let mut orphans = Vec::new();
        for batch in ids.chunks(BATCH) {
            let known = unit.existing_files(batch).await?;
            for id in batch.iter().filter(|id| !known.contains(id)) {
                match unit.upload(*id).await {
                    Ok(upload) if upload.expires_at > Utc::now() => {}
                    Ok(_) | Err(StoreError::NotFound) => orphans.push(*id),
                    Err(other) => return Err(other),
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
        for (org, ids) in self.candidates().await? {
            for id in self.orphans(org, &ids).await.map_err(retry)? {
                self.blob
                    .delete(&super::object_key(org, id))
                    .await
                    .map_err(retry)?;
                removed += 1;
            }
        }
        tracing::info!(removed, "file sweep done");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_file_keys_parse() {
        let (org, file) = (OrgId::new(), FileId::new());
        assert_eq!(parse_key(&format!("org/{org}/{file}")), Some((org, file)));
        assert_eq!(parse_key(&format!("org/{org}/{file}/x")), None);
        assert_eq!(parse_key(&format!("audit/{org}/{file}")), None);
        assert_eq!(parse_key("org/nope/also"), None);
    }
}
