//! `org.purge`: removes a soft-deleted org and everything it owns once its restore period
//! has passed. Enqueued by the deletion, due at the end of the period; a restore (or a
//! later deletion, which schedules its own purge) makes it a no-op. The org's objects go
//! after its rows.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use tenantbase_blob::BlobStore;
use tenantbase_domain::OrgId;
use tenantbase_domain::model::{Actor, RequestMeta};
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::{Store, StoreError};

use super::Tenancy;
use super::cache::OrgStale;
use crate::jobs::{JobContext, JobError, JobHandler};
use crate::write::{Change, NoCache, Write};

pub struct PurgeOrg {
    pub store: Arc<dyn Store>,
    pub blob: BlobStore,
    pub restore_period: Duration,
}

impl PurgeOrg {
    pub const KIND: &'static str = "org.purge";
}

#[derive(Deserialize)]
struct Payload {
    org_id: OrgId,
}

fn retry(error: StoreError) -> JobError {
    JobError::Retry(error.to_string())
}

#[async_trait]
impl JobHandler for PurgeOrg {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        let Payload { org_id } = job.payload()?;
        let unit = self
            .store
            .begin_org(&Tenancy::system_scope(org_id))
            .await
            .map_err(retry)?;
        // The serving processes' grants already say the org is deleted, and expire soon.
        let mut unit = Write::new(unit, NoCache);
        let org = match unit.org().await {
            Ok(org) => org,
            // Purged already; a retry finishes removing the objects.
            Err(StoreError::NotFound) => return self.purge_objects(org_id).await,
            Err(other) => return Err(retry(other)),
        };
        let period = chrono::Duration::from_std(self.restore_period).unwrap_or_default();
        let due = org.deleted_at.is_some_and(|at| at + period <= Utc::now());
        if !due {
            return Ok(());
        }
        unit.purge_org().await.map_err(retry)?;
        // The org's audit chain outlives it: the purge is its last event.
        let event = NewEvent {
            org_id: Some(org_id),
            event_type: "org.purged".to_owned(),
            actor: Actor::System,
            target: Some(tenantbase_domain::model::Target {
                kind: "org".to_owned(),
                id: org_id.to_string(),
            }),
            request: RequestMeta::default(),
            payload: serde_json::json!({"slug": org.slug}),
        };
        unit.commit(Change::new(OrgStale::OrgState, event))
            .await
            .map_err(retry)?;
        self.purge_objects(org_id).await
    }
}

impl PurgeOrg {
    /// The org's files and staged uploads, after its rows: a failure here retries the job, which finds the
    /// org gone and comes straight back here.
    async fn purge_objects(&self, org: OrgId) -> Result<(), JobError> {
        let mut removed = 0;
        for prefix in [format!("org/{org}"), format!("uploads/{org}")] {
            removed += self
                .blob
                .delete_prefix(&prefix)
                .await
                .map_err(|e| JobError::Retry(e.to_string()))?;
        }
        tracing::info!(%org, removed, "org objects purged");
        Ok(())
    }
}
