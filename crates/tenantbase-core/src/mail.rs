//! Outgoing email is a job: a request only renders the message and enqueues it in its
//! own transaction, and a worker delivers it — retried with backoff while the mail
//! server is down, dead-lettered (and visible) when it refuses for good.

use std::sync::Arc;

use async_trait::async_trait;
use tenantbase_mail::{Branding, MailError, MailTransport, MessageKind, OutgoingEmail};
use tenantbase_store::jobs::{Enqueued, NewJob};
use tenantbase_store::{StoreError, UnitOfWork};

use crate::jobs::{JobContext, JobError, JobHandler};

#[derive(Debug, thiserror::Error)]
pub enum QueueMailError {
    /// The message cannot be built (bad address, URL or colour).
    #[error(transparent)]
    Render(#[from] MailError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Renders `message` for `to` and enqueues its delivery in `unit`.
pub async fn queue_email(
    unit: &mut dyn UnitOfWork,
    to: &str,
    message: &MessageKind,
    branding: &Branding,
) -> Result<Enqueued, QueueMailError> {
    Ok(unit.enqueue_job(email_job(to, message, branding)?).await?)
}

/// The `mail.send` job delivering `message` to `to`, for units other than `UnitOfWork`.
pub fn email_job(
    to: &str,
    message: &MessageKind,
    branding: &Branding,
) -> Result<NewJob, MailError> {
    let email = tenantbase_mail::render(to, message, branding)?;
    // A rendered message is plain strings: serializing it cannot fail.
    let payload = serde_json::to_value(&email).unwrap_or_default();
    Ok(NewJob::new(SendEmail::KIND, payload))
}

/// `mail.send`: delivers one rendered message through the configured transport.
pub struct SendEmail {
    pub transport: Arc<dyn MailTransport>,
}

impl SendEmail {
    pub const KIND: &'static str = "mail.send";
}

#[async_trait]
impl JobHandler for SendEmail {
    fn kind(&self) -> &'static str {
        Self::KIND
    }

    async fn run(&self, job: &JobContext) -> Result<(), JobError> {
        let email: OutgoingEmail = job.payload()?;
        self.transport.send(&email).await.map_err(|error| {
            if error.is_transient() {
                JobError::Retry(error.to_string())
            } else {
                JobError::Fail(error.to_string())
            }
        })
    }
}
