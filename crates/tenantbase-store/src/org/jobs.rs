//! Jobs an org's change leaves to be done after it commits (emails, cleanup), enqueued in
//! the same transaction so they exist exactly when the change does.

use async_trait::async_trait;

use crate::StoreResult;
use crate::platform::jobs::NewJob;
use tenantbase_domain::model::Enqueued;

#[async_trait]
pub trait OrgJobsUnit: Send {
    async fn enqueue_job(&mut self, job: NewJob) -> StoreResult<Enqueued>;
}
