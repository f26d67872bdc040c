//! The one error type of the crate, split by what the caller should do next: retry later
//! or give up on the message.

/// Why a message could not be rendered or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// Worth retrying: connection refused, timeout, 4xx from the server.
    #[error("mail delivery failed, retry later: {0}")]
    Transient(String),
    /// Retrying will not help: bad address, 5xx rejection, template error.
    #[error("mail cannot be delivered: {0}")]
    Permanent(String),
}

impl MailError {
    /// Whether sending the same message again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_errors_are_worth_a_retry() {
        assert!(MailError::Transient("timeout".into()).is_transient());
        assert!(!MailError::Permanent("550".into()).is_transient());
    }
}
