//! Mail through the job queue to a real SMTP server (aiosmtpd on loopback), including an
//! outage: the message waits in the queue and arrives once the server is back.

mod fixture;

use std::sync::Arc;
use std::time::Duration;

use fixture::{Backend, Fixture, stop_worker, wait_for_job};
use tenantbase_core::identity::tokens::MasterKey;
use tenantbase_core::jobs::{Backoff, JobSeal, Registry, Worker, WorkerConfig};
use tenantbase_core::mail::{Mailer, SendEmail};
use tenantbase_domain::model::JobState;
use tenantbase_mail::testing::SmtpServer;
use tenantbase_mail::{Branding, MessageKind, SmtpConfig, SmtpSecurity, SmtpTransport};
use tenantbase_store::Store;
use tokio_util::sync::CancellationToken;

fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        security: SmtpSecurity::None,
        username: None,
        password: None,
        timeout_secs: 5,
    }
}

fn seal() -> JobSeal {
    JobSeal::from_master(&MasterKey::generate().expect("master key"))
}

async fn queue(
    store: &dyn Store,
    mailer: &Mailer,
    to: &str,
    name: &str,
) -> tenantbase_domain::JobId {
    let mut unit = store.begin().await.expect("begin");
    let message = MessageKind::VerifyEmail {
        display_name: name.to_owned(),
        link: "https://app.example.com/verify?token=abc".to_owned(),
    };
    let id = mailer
        .queue(unit.as_mut(), to, &message)
        .await
        .expect("queued")
        .id();
    unit.commit().await.expect("commit");
    id
}

// Multi-threaded: the test blocks a thread waiting for the SMTP server's mailbox while
// the worker delivers on another.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_survives_an_smtp_outage() {
    let mut smtp = tokio::task::spawn_blocking(SmtpServer::start)
        .await
        .expect("aiosmtpd");
    let f = Fixture::new(Backend::Sqlite).await;
    let transport = SmtpTransport::new(
        &smtp_config(smtp.port()),
        "tenantbase <no-reply@example.com>",
    )
    .expect("transport");
    let seal = seal();
    let mailer = Mailer::new(Branding::default(), seal.clone());
    let registry = Registry::new().register(SendEmail {
        transport: Arc::new(transport),
        seal,
    });
    let config = WorkerConfig {
        concurrency: 2,
        poll_interval: Duration::from_millis(20),
        lease: Duration::from_secs(30),
        backoff: Backoff {
            base: Duration::from_millis(200),
            max: Duration::from_millis(400),
        },
    };
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(Worker::new(f.store.clone(), registry, config).run(shutdown.clone()));

    queue(
        f.store.as_ref(),
        &mailer,
        "ada@example.com",
        "Ada <b>Lovelace</b>",
    )
    .await;
    let received = smtp.wait_for_messages(1, Duration::from_secs(20));
    assert_eq!(received.len(), 1);
    assert!(
        received[0].contains("To: ada@example.com"),
        "{}",
        received[0]
    );
    assert!(received[0].contains("Subject: "));
    assert!(
        received[0].contains("Ada &lt;b&gt;Lovelace"),
        "the HTML part escapes the name"
    );

    smtp.stop();
    let id = queue(f.store.as_ref(), &mailer, "grace@example.com", "Grace").await;
    let job = wait_for_job(f.store.as_ref(), id, Duration::from_secs(20), |job| {
        job.state == JobState::Queued && job.attempts >= 1
    })
    .await;
    assert!(job.last_error.is_some(), "the failure is recorded");
    smtp.restart();
    wait_for_job(f.store.as_ref(), id, Duration::from_secs(30), |job| {
        job.state == JobState::Succeeded
    })
    .await;
    let after = smtp.wait_for_messages(1, Duration::from_secs(10));
    assert!(
        after.iter().any(|m| m.contains("To: grace@example.com")),
        "{after:?}"
    );
    stop_worker(shutdown, worker).await;
}

#[tokio::test]
async fn unrenderable_mail_is_refused_at_enqueue() {
    let f = Fixture::new(Backend::Sqlite).await;
    let mailer = Mailer::new(Branding::default(), seal());
    let mut unit = f.store.begin().await.expect("begin");
    let message = MessageKind::VerifyEmail {
        display_name: "x".to_owned(),
        link: "javascript:alert(1)".to_owned(),
    };
    assert!(
        mailer
            .queue(unit.as_mut(), "a@example.com", &message)
            .await
            .is_err()
    );
    assert!(
        mailer
            .queue(unit.as_mut(), "not an address", &message)
            .await
            .is_err()
    );
}
