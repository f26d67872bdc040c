//! SMTP delivery against a real server on loopback (`testing::SmtpServer`, Python's
//! aiosmtpd): what arrives, and which errors a job queue would retry.

use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};
use tenantbase_mail::testing::SmtpServer;
use tenantbase_mail::{
    Branding, MailTransport, MessageKind, OutgoingEmail, SmtpConfig, SmtpSecurity, SmtpTransport,
    render,
};

const FROM: &str = "Acme <no-reply@acme.example>";

fn plain_config(port: u16, timeout_secs: u64) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        timeout_secs,
    }
}

fn invitation() -> OutgoingEmail {
    let message = MessageKind::Invitation {
        inviter_name: "Grace <Hopper>".to_owned(),
        org_name: "Acme & Co".to_owned(),
        link: "https://app.example.com/invitations/abc?x=1&y=2".to_owned(),
    };
    render(
        "Ada Lovelace <ada@example.com>",
        &message,
        &Branding::default(),
    )
    .expect("renders")
}

#[tokio::test]
async fn delivers_to_a_real_server_and_fails_transiently_while_it_is_down() {
    let mut server = SmtpServer::start();
    let transport = SmtpTransport::new(&plain_config(server.port(), 5), FROM).expect("transport");
    let email = invitation();

    transport.send(&email).await.expect("delivered");
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "one message arrived");
    let parsed = MessageParser::default()
        .parse(messages[0].as_bytes())
        .expect("the delivered message parses");
    let to = parsed.to().and_then(|a| a.first()).expect("To");
    assert_eq!(to.address(), Some("ada@example.com"));
    assert_eq!(to.name(), Some("Ada Lovelace"));
    let from = parsed.from().and_then(|a| a.first()).expect("From");
    assert_eq!(from.address(), Some("no-reply@acme.example"));
    assert_eq!(from.name(), Some("Acme"));
    assert_eq!(parsed.subject(), Some("Join “Acme & Co” on tenantbase"));
    // The envelope, as aiosmtpd recorded it.
    assert!(
        messages[0].contains("X-MailFrom: no-reply@acme.example"),
        "{}",
        messages[0]
    );
    assert!(
        messages[0].contains("X-RcptTo: ada@example.com"),
        "{}",
        messages[0]
    );
    let content_type = parsed.content_type().expect("Content-Type");
    assert_eq!(
        (content_type.ctype(), content_type.subtype()),
        ("multipart", Some("alternative"))
    );
    let text = parsed
        .body_text(0)
        .expect("text part")
        .replace("\r\n", "\n");
    let html = parsed
        .body_html(0)
        .expect("HTML part")
        .replace("\r\n", "\n");
    assert_eq!(text.trim_end(), email.text.trim_end());
    assert_eq!(html.trim_end(), email.html.trim_end());
    assert!(
        text.contains("“Grace <Hopper>” invited you to join “Acme & Co”"),
        "{text}"
    );
    assert!(html.contains("Grace &lt;Hopper&gt;") && html.contains("Acme &amp; Co"));

    server.stop();
    let error = transport.send(&email).await.expect_err("nobody listens");
    assert!(
        error.is_transient(),
        "a refused connection is worth a retry: {error}"
    );
    assert!(!error.to_string().contains("ada@example.com"), "{error}");

    server.restart();
    transport
        .send(&email)
        .await
        .expect("delivered once the server is back");
    assert_eq!(server.messages().len(), 2);
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_transient_timeout() {
    // Accepts connections (the kernel's backlog does) but never sends a greeting.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = silent.local_addr().expect("address").port();
    let transport = SmtpTransport::new(&plain_config(port, 1), FROM).expect("transport");

    let started = Instant::now();
    let error = transport
        .send(&invitation())
        .await
        .expect_err("no greeting");
    assert!(error.is_transient(), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "bounded by timeout_secs"
    );
    drop(silent);
}
