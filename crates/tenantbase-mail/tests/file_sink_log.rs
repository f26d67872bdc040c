//! The file sink's log line names the file and nothing personal. Alone in its test binary:
//! `tracing` caches per call site whether anyone listens, and a test running in parallel
//! without a subscriber could make this one miss the line.

use std::sync::{Arc, Mutex};

use tenantbase_mail::{Branding, FileSink, MailTransport, MessageKind, render};

/// Everything the `tracing` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn the_log_line_names_the_file_and_nothing_personal() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let root = tempfile::tempdir().expect("temp dir");
    let sink = FileSink::new(root.path().to_owned(), "Acme <no-reply@acme.example>").expect("sink");
    let message = MessageKind::ResetPassword {
        display_name: "Ada Lovelace".to_owned(),
        link: "https://app.example.com/reset?token=s3cr3t".to_owned(),
        expires_in_minutes: 30,
    };
    let email = render("Ada <ada@example.com>", &message, &Branding::default()).expect("renders");
    sink.send(&email).await.expect("send");

    let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "exactly one line: {log}");
    assert!(lines[0].contains(" INFO "), "{log}");
    let files: Vec<String> = std::fs::read_dir(root.path())
        .expect("read folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(lines[0].contains(&files[0]), "the file is named: {log}");
    for personal in [
        "ada@example.com",
        "Ada",
        "Lovelace",
        "s3cr3t",
        &email.subject,
    ] {
        assert!(!log.contains(personal), "{personal:?} logged: {log}");
    }
}
