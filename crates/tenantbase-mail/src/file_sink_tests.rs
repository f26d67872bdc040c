//! Tests of the file sink: one complete, parseable `.eml` per message; errors by kind.
//! The log line is checked in `tests/file_sink_log.rs`, alone in its binary.

use mail_parser::{MessageParser, MimeHeaders};

use super::*;
use crate::{Branding, MessageKind, render};

fn eml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read mail folder")
        .map(|entry| entry.expect("entry").path())
        .collect();
    files.sort();
    files
}

fn verify_email(to: &str) -> OutgoingEmail {
    let message = MessageKind::VerifyEmail {
        display_name: "Ada & <Co>".to_owned(),
        link: "https://app.example.com/verify?token=abc".to_owned(),
    };
    render(to, &message, &Branding::default()).expect("renders")
}

#[tokio::test]
async fn each_send_writes_one_parseable_eml() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("mail").join("outbox");
    let sink = FileSink::new(dir.clone(), "Acme <no-reply@acme.example>").expect("sink");
    assert!(dir.is_dir(), "the folder is created");

    let first = verify_email("Ada Lovelace <ada@example.com>");
    sink.send(&first).await.expect("first send");
    let files = eml_files(&dir);
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().and_then(|n| n.to_str()).expect("name");
    assert!(name.ends_with(".eml") && !name.starts_with('.'), "{name}");

    let raw = std::fs::read(&files[0]).expect("read eml");
    let parsed = MessageParser::default()
        .parse(&raw)
        .expect("parses as RFC 5322");
    let to = parsed.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("ada@example.com"));
    assert_eq!(to.name(), Some("Ada Lovelace"));
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("no-reply@acme.example"));
    assert_eq!(parsed.subject(), Some(first.subject.as_str()));
    assert!(
        parsed
            .message_id()
            .is_some_and(|id| id.ends_with("@acme.example"))
    );
    assert!(parsed.date().is_some());
    let content_type = parsed.content_type().expect("Content-Type");
    assert_eq!(content_type.ctype(), "multipart");
    assert_eq!(content_type.subtype(), Some("alternative"));
    assert_eq!(parsed.text_body.len(), 1);
    assert_eq!(parsed.html_body.len(), 1);
    // MIME text travels with CRLF line ends; the content is otherwise the same.
    let unix = |body: Option<std::borrow::Cow<'_, str>>| {
        body.map(|b| b.replace("\r\n", "\n").trim_end().to_owned())
    };
    assert_eq!(
        unix(parsed.body_text(0)).as_deref(),
        Some(first.text.trim_end())
    );
    assert_eq!(
        unix(parsed.body_html(0)).as_deref(),
        Some(first.html.trim_end())
    );

    sink.send(&verify_email("bob@example.com"))
        .await
        .expect("second send");
    let files = eml_files(&dir);
    assert_eq!(
        files.len(),
        2,
        "one more file, and no temporary left: {files:?}"
    );
}

#[tokio::test]
async fn bad_addresses_are_permanent_errors() {
    let root = tempfile::tempdir().expect("temp dir");
    let error = FileSink::new(root.path().to_owned(), "not an address").expect_err("bad from");
    assert!(!error.is_transient());

    let sink = FileSink::new(root.path().to_owned(), crate::DEFAULT_FROM).expect("sink");
    let mut email = verify_email("ada@example.com");
    email.to = "ada at example.com".to_owned();
    let error = sink.send(&email).await.expect_err("bad to");
    assert!(!error.is_transient());
    assert!(eml_files(root.path()).is_empty(), "nothing written");
}

#[tokio::test]
async fn an_unwritable_folder_is_a_transient_error() {
    let root = tempfile::tempdir().expect("temp dir");
    let dir = root.path().join("outbox");
    let sink = FileSink::new(dir.clone(), crate::DEFAULT_FROM).expect("sink");
    // The folder vanishes under the sink (e.g. a cleaned-up volume): a later retry,
    // once it is back, can succeed.
    std::fs::remove_dir(&dir).expect("remove folder");
    let error = sink
        .send(&verify_email("ada@example.com"))
        .await
        .expect_err("no folder");
    assert!(error.is_transient(), "{error}");
}
