//! Transactional email for tenantbase: messages rendered from embedded templates (each
//! replaceable by a file: `use_templates`) with the product's branding, and the
//! transports that deliver them — SMTP for production, a folder of `.eml` files for the
//! embedded (development) mode.
//!
//! The flow is `render` → `OutgoingEmail` (also a job payload) → `MailTransport::send`.
//! Errors say whether a retry can help (`MailError::is_transient`), which is all a job
//! queue needs to decide between retrying and giving up.

mod branding;
mod error;
mod file_sink;
mod message;
mod mime;
mod render;
mod safe;
mod smtp;
mod templates;
#[cfg(feature = "testing")]
pub mod testing;

pub use branding::Branding;
pub use error::MailError;
pub use file_sink::FileSink;
pub use message::{MessageKind, OutgoingEmail};
pub use render::render;
pub use smtp::{SmtpConfig, SmtpSecurity, SmtpTransport};
pub use templates::use_templates;

/// The sender used when `mail.from` is not configured.
pub const DEFAULT_FROM: &str = "tenantbase <no-reply@localhost>";

/// Whether mail can be addressed to `address` (it parses as the recipient every transport
/// builds): lets callers refuse an address where it enters, rather than when mail to it is
/// queued.
pub fn can_deliver_to(address: &str) -> bool {
    mime::mailbox("recipient", address).is_ok()
}

/// Delivers rendered messages. Implementations are shared across tasks, hence `Sync`.
#[async_trait::async_trait]
pub trait MailTransport: Send + Sync + std::fmt::Debug {
    /// Sends one message; the error tells whether a later retry may succeed.
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError>;
}
