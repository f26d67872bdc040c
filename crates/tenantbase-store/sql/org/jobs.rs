//! Jobs enqueued by an org's unit, with the job queue's own statement.

use async_trait::async_trait;
use tenantbase_store::StoreResult;
use tenantbase_store::jobs::{Enqueued, NewJob};
use tenantbase_store::org::jobs::OrgJobsUnit;

use super::OrgTx;

#[async_trait]
impl OrgJobsUnit for OrgTx {
    async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued> {
        crate::shared::enqueue_job(&mut self.tx, job).await
    }
}
