//! `org.purge`: removes a soft-deleted org and everything it owns once its restore period
//! has passed. Enqueued by the deletion, due at the end of the period; a restore (or a
//! later deletion, which schedules its own purge) makes it a no-op. Its projects go first,
//! in units of bounded size, then the org with the rest of its rows, then its objects.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::Deserialize;
use tenantbase_blob::BlobStore;
use tenantbase_domain::OrgId;
use tenantbase_domain::model::{Actor, Org, RequestMeta};
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
        self.purge_projects(org_id).await?;
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
        if !self.due(&org) {
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

/// Projects removed per unit before the unit that purges the org. Each unit holds SQLite's
/// one writer while it runs, and there keeps the originals of the pages it changes in
/// memory (about 0.45 KiB a project, ADR 0009): an org's projects go in units this size.
const PROJECTS_PER_UNIT: u32 = 2_000;

impl PurgeOrg {
    /// Whether `org` was deleted and its restore period is over: past it a restore is
    /// refused, so a purge begun stays due.
    fn due(&self, org: &Org) -> bool {
        let period = chrono::Duration::from_std(self.restore_period).unwrap_or_default();
        org.deleted_at.is_some_and(|at| at + period <= Utc::now())
    }

    /// Takes a due org's projects away, `PROJECTS_PER_UNIT` at a time, until none is left;
    /// nothing if the org is not due or gone.
    async fn purge_projects(&self, org_id: OrgId) -> Result<(), JobError> {
        loop {
            let mut unit = self
                .store
                .begin_org(&Tenancy::system_scope(org_id))
                .await
                .map_err(retry)?;
            let due = match unit.org().await {
                Ok(org) => self.due(&org),
                Err(StoreError::NotFound) => false,
                Err(other) => return Err(retry(other)),
            };
            if !due {
                return Ok(());
            }
            let removed = unit
                .purge_projects(PROJECTS_PER_UNIT)
                .await
                .map_err(retry)?;
            unit.commit().await.map_err(retry)?;
            if removed < u64::from(PROJECTS_PER_UNIT) {
                return Ok(());
            }
        }
    }

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
