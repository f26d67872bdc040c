//! Jobs enqueued by an org's unit, with the job queue's own statement.

use async_trait::async_trait;
use tenantbase_domain::model::Enqueued;
use tenantbase_store::StoreResult;
use tenantbase_store::org::jobs::OrgJobsUnit;
use tenantbase_store::platform::jobs::NewJob;

use super::OrgTx;

#[async_trait]
impl OrgJobsUnit for OrgTx {
    async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued> {
        crate::sql::platform::jobs::enqueue_job(&mut self.tx, job).await
    }
}
