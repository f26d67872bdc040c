//! Outgoing email is a job: a request only renders the message and enqueues it in its
//! own transaction, and a worker delivers it — retried with backoff while the mail
//! server is down, dead-lettered (and visible) when it refuses for good.
//!
//! A rendered message holds its recipient and often a single-use link, so the job's
//! payload is sealed (`jobs::JobSeal`): neither the queue nor a dead letter keeps it in
//! plain text, and a delivered job's payload is dropped by the queue.

use std::sync::Arc;

use async_trait::async_trait;
use tenantbase_domain::email::Email;
use tenantbase_domain::model::Enqueued;
use tenantbase_mail::{Branding, MailError, MailTransport, MessageKind, OutgoingEmail};
use tenantbase_store::platform::jobs::NewJob;
use tenantbase_store::{StoreError, UnitOfWork};
use tracing::Instrument;

use crate::jobs::{JobContext, JobError, JobHandler, JobSeal, SealError};

/// An address we are about to write to (a new account's, an invitee's): a sane shape, and
/// one the mailer accepts too. Its first message is queued in the unit that records it, so
/// an address the mailer refuses (a local part over 64 characters, doubled dots, …) would
/// otherwise fail the request with a 500.
pub(crate) fn deliverable(raw: &str) -> Result<Email, String> {
    let email = Email::parse(raw).map_err(|e| e.to_string())?;
    if tenantbase_mail::can_deliver_to(email.as_str()) {
        Ok(email)
    } else {
        Err("is not an address mail can be sent to (at most 64 characters before the @, no leading, trailing or doubled dots, and labels of letters, digits and hyphens after it)".to_owned())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum QueueMailError {
    /// The message cannot be built (bad address, URL or colour).
    #[error(transparent)]
    Render(#[from] MailError),
    #[error(transparent)]
    Seal(#[from] SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Renders messages with the product's branding and queues them, sealed.
#[derive(Debug, Clone)]
pub struct Mailer {
    branding: Branding,
    seal: JobSeal,
}

impl Mailer {
    pub fn new(branding: Branding, seal: JobSeal) -> Self {
        Self { branding, seal }
    }

    /// Renders `message` for `to` and enqueues its delivery in `unit`.
    pub async fn queue(
        &self,
        unit: &mut dyn UnitOfWork,
        to: &str,
        message: &MessageKind,
    ) -> Result<Enqueued, QueueMailError> {
        Ok(unit.enqueue_job(self.job(to, message)?).await?)
    }

    /// The `mail.send` job delivering `message` to `to`, for units other than `UnitOfWork`.
    pub fn job(&self, to: &str, message: &MessageKind) -> Result<NewJob, QueueMailError> {
        let email = tenantbase_mail::render(to, message, &self.branding)?;
        let payload = self.seal.seal(SendEmail::KIND, &email)?;
        Ok(NewJob::new(SendEmail::KIND, payload))
    }
}

/// `mail.send`: opens one sealed, rendered message and delivers it through the transport.
pub struct SendEmail {
    pub transport: Arc<dyn MailTransport>,
    /// Opens the payloads `Mailer` sealed (same master key).
    pub seal: JobSeal,
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
        let email: OutgoingEmail = self.seal.open(job)?;
        // Neither addresses nor content go into the span.
        let span = tracing::info_span!("mail.send", otel.kind = "client");
        let sent = self.transport.send(&email).instrument(span).await;
        sent.map_err(|error| {
            if error.is_transient() {
                JobError::Retry(error.to_string())
            } else {
                JobError::Fail(error.to_string())
            }
        })
    }
}
