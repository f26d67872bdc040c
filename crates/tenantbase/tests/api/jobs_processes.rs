//! Jobs across real processes: two `tenantbase worker`s sharing a PostgreSQL queue, and a
//! server killed with SIGKILL in the middle of a thousand jobs.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tenantbase_core::identity::tokens::MasterKey;
use tenantbase_core::jobs::JobSeal;
use tenantbase_core::mail::Mailer;
use tenantbase_domain::model::JobState;
use tenantbase_store::Store;
use tenantbase_store::platform::jobs::NewJob;

use crate::helpers::pg_store;
use crate::process::{Server, migrated_sqlite, output, tenantbase};

async fn enqueue_probes(store: &dyn Store, n: usize, sleep_ms: u64) {
    let mut unit = store.begin().await.expect("begin");
    for _ in 0..n {
        unit.enqueue_job(NewJob::new("system.probe", json!({"sleep_ms": sleep_ms})))
            .await
            .expect("enqueue");
    }
    unit.commit().await.expect("commit");
}

async fn wait_until_succeeded(store: &dyn Store, n: usize) -> Vec<tenantbase_domain::model::Job> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let done = store
            .list_jobs(Some(JobState::Succeeded), 10_000)
            .await
            .expect("list");
        if done.len() == n {
            return done;
        }
        assert!(
            Instant::now() < deadline,
            "only {} of {n} jobs succeeded",
            done.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn two_worker_processes_run_each_job_exactly_once() {
    let db = tenantbase_testkit::fresh_database().await;
    let store: Arc<dyn Store> = Arc::new(pg_store(&db.url));
    store.migrate().await.expect("migrate");

    let dir = tempfile::tempdir().expect("dir");
    let mut workers: Vec<Server> = (0..2)
        .map(|_| {
            Server::spawn(
                tenantbase(dir.path())
                    .args(["worker", "--concurrency", "4"])
                    .env("DATABASE_URL", &db.url)
                    .env("TENANTBASE_JOBS__POLL_INTERVAL_MS", "20"),
            )
        })
        .collect();
    // Jobs go in once both are polling: a worker that started late would find the queue
    // already emptied by the other.
    for worker in &mut workers {
        worker.wait_for_line(|l| l["message"] == "job worker started");
    }
    enqueue_probes(store.as_ref(), 1000, 5).await;
    let done = wait_until_succeeded(store.as_ref(), 1000).await;
    for worker in &mut workers {
        worker.terminate();
        let status = worker.wait_exit();
        assert!(status.success(), "worker exited with {status}");
    }
    assert!(
        done.iter().all(|job| job.attempts == 1),
        "a job was claimed twice"
    );
    let holders: HashSet<_> = done.iter().map(|job| job.locked_by.clone()).collect();
    assert_eq!(holders.len(), 2, "both processes took part: {holders:?}");
}

#[tokio::test]
async fn a_killed_server_loses_no_job() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = migrated_sqlite(dir.path()).await;
    enqueue_probes(store.as_ref(), 1000, 10).await;

    let serve = |dir: &std::path::Path| {
        let mut command = tenantbase(dir);
        command
            .env("TENANTBASE_JOBS__LEASE_SECS", "2")
            .env("TENANTBASE_JOBS__POLL_INTERVAL_MS", "20");
        command
    };
    let mut server = Server::start(&mut serve(dir.path()));
    let deadline = Instant::now() + Duration::from_secs(30);
    while store
        .list_jobs(Some(JobState::Succeeded), 10_000)
        .await
        .expect("list")
        .len()
        < 100
    {
        assert!(Instant::now() < deadline, "jobs did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("reaped");
    let orphaned: HashSet<_> = store
        .list_jobs(Some(JobState::Running), 100)
        .await
        .expect("list")
        .into_iter()
        .map(|job| job.id)
        .collect();
    assert!(!orphaned.is_empty(), "the kill caught jobs mid-run");
    let queued = store
        .list_jobs(Some(JobState::Queued), 10_000)
        .await
        .expect("list")
        .len();
    assert!(queued > 0, "the kill left jobs queued");

    let mut restarted = Server::start(&mut serve(dir.path()));
    let done = wait_until_succeeded(store.as_ref(), 1000).await;
    for job in &done {
        let expected = if orphaned.contains(&job.id) { 2 } else { 1 };
        assert_eq!(
            job.attempts, expected,
            "only jobs running at the crash ran twice"
        );
    }
    restarted.terminate();
    assert!(restarted.wait_exit().success());
}

#[tokio::test]
async fn the_embedded_mode_delivers_mail_to_eml_files() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = migrated_sqlite(dir.path()).await;
    let mut unit = store.begin().await.expect("begin");
    let message = tenantbase_mail::MessageKind::MfaCode {
        display_name: "Ada".to_owned(),
        code: "493817".to_owned(),
        expires_in_minutes: 10,
        step_up: false,
    };
    // The server opens the sealed message with the master key it is given.
    let master = MasterKey::generate().expect("master key");
    Mailer::new(Default::default(), JobSeal::from_master(&master))
        .queue(unit.as_mut(), "ada@example.com", &message)
        .await
        .expect("queue");
    unit.commit().await.expect("commit");

    let mut server = Server::start(
        tenantbase(dir.path()).env("TENANTBASE_AUTH__MASTER_KEY", master.to_base64()),
    );
    let line = server.wait_for_line(|l| {
        l["target"]
            .as_str()
            .is_some_and(|t| t.starts_with("tenantbase_mail"))
    });
    let mail_dir = dir.path().join("data/mail");
    let files: Vec<_> = std::fs::read_dir(&mail_dir)
        .expect("mail folder")
        .flatten()
        .collect();
    assert_eq!(files.len(), 1);
    let eml = std::fs::read_to_string(files[0].path()).expect("eml");
    assert!(
        eml.contains("To: ada@example.com") && eml.contains("493817"),
        "{eml}"
    );
    assert!(
        !line.to_string().contains("ada@example.com"),
        "no recipient in the log: {line}"
    );
    server.terminate();
    assert!(server.wait_exit().success());
}

#[test]
fn smtp_without_a_host_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("dir");
    let (ok, _, stderr) = output(
        tenantbase(dir.path())
            .arg("serve")
            .env("TENANTBASE_MAIL__TRANSPORT", "smtp"),
    );
    assert!(!ok);
    assert!(stderr.contains("mail.smtp.host"), "{stderr}");
}
