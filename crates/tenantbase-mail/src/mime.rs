//! Turning an `OutgoingEmail` into an RFC 5322 message with lettre's builder, shared by
//! every transport so that what the file sink writes is what SMTP would send.

use lettre::Message;
use lettre::message::{Mailbox, MultiPart};

use crate::{MailError, OutgoingEmail, safe};

/// `value` parsed as `user@example.com` or `Name <user@example.com>`; `what` names it in
/// the error (the address itself stays out of it: errors end up in logs).
pub(crate) fn mailbox(what: &str, value: &str) -> Result<Mailbox, MailError> {
    value
        .trim()
        .parse()
        .map_err(|e| MailError::Permanent(format!("{what} is not a valid email address: {e}")))
}

/// The complete message: From, To, Subject, Date, Message-ID, multipart/alternative body.
pub(crate) fn build_message(from: &Mailbox, email: &OutgoingEmail) -> Result<Message, MailError> {
    let to = mailbox("recipient", &email.to)?;
    // A Message-ID in the sender's domain: some filters distrust mail without one.
    let message_id = format!("<{}@{}>", uuid::Uuid::now_v7(), from.email.domain());
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(safe::header_text(&email.subject))
        .message_id(Some(message_id))
        .multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        ))
        .map_err(|e| MailError::Permanent(format!("building the message: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(to: &str) -> OutgoingEmail {
        OutgoingEmail {
            to: to.to_owned(),
            subject: "Hello\r\nBcc: victim@example.com".to_owned(),
            text: "text body".to_owned(),
            html: "<p>html body</p>".to_owned(),
        }
    }

    #[test]
    fn a_bad_address_is_a_permanent_error() {
        let from = mailbox("sender", crate::DEFAULT_FROM).expect("default sender parses");
        for bad in ["", "not an address", "a@b@c", "Bob <bob@>"] {
            let error = build_message(&from, &email(bad)).expect_err(bad);
            assert!(!error.is_transient(), "{bad:?}");
        }
        assert!(mailbox("sender", "no at sign").is_err());
    }

    #[test]
    fn a_subject_cannot_add_headers() {
        let from = mailbox("sender", crate::DEFAULT_FROM).expect("default sender parses");
        let message = build_message(&from, &email("Bob <bob@example.com>")).expect("builds");
        let raw = String::from_utf8(message.formatted()).expect("utf-8");
        assert!(
            raw.contains("Subject: Hello Bcc: victim@example.com\r\n"),
            "{raw}"
        );
        assert!(!raw.contains("\r\nBcc:"), "{raw}");
        assert!(raw.contains("Content-Type: multipart/alternative"), "{raw}");
        assert!(raw.contains("Message-ID: <"), "{raw}");
    }
}
