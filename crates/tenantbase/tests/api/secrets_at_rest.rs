//! No emailed secret rests in plain text: after each emailed flow (registration,
//! resend, password recovery, invitation) every column of every table — enumerated from
//! the schema, so a new table is covered without a change here — is searched for the
//! token, while it waits in the queue, once delivered, and once dead-lettered.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::{Connection, Row};
use tenantbase_core::jobs::{JobSeal, Registry, Worker, WorkerConfig};
use tenantbase_core::mail::SendEmail;
use tenantbase_domain::model::JobState;
use tenantbase_mail::{MailError, MailTransport, OutgoingEmail};
use tokio_util::sync::CancellationToken;

use crate::helpers::{BOTH, Backend, TestApp};
use crate::tenants::{Caller, mailed_token};

/// Where `needle` occurs, as `table.column`, in the app's database.
pub(crate) async fn find_in_database(app: &TestApp, backend: Backend, needle: &str) -> Vec<String> {
    match backend {
        Backend::Sqlite => find_in_sqlite(&app.database_url, needle).await,
        Backend::Postgres => find_in_postgres(&app.database_url, needle).await,
    }
}

async fn find_in_sqlite(url: &str, needle: &str) -> Vec<String> {
    let mut db = sqlx::SqliteConnection::connect(url).await.expect("sqlite");
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT t.name, c.name FROM sqlite_master t, pragma_table_info(t.name) c \
         WHERE t.type = 'table'",
    )
    .fetch_all(&mut db)
    .await
    .expect("schema");
    assert!(columns.len() > 20, "the schema was read: {columns:?}");
    let mut hits = Vec::new();
    for (table, column) in columns {
        // Text and blobs alike: CAST of a blob gives its bytes as text.
        let sql = format!(
            "SELECT COUNT(*) FROM \"{table}\" WHERE instr(CAST(\"{column}\" AS TEXT), ?) > 0"
        );
        let (count,): (i64,) = sqlx::query_as(&sql)
            .bind(needle)
            .fetch_one(&mut db)
            .await
            .expect("scan");
        if count > 0 {
            hits.push(format!("{table}.{column}"));
        }
    }
    hits
}

async fn find_in_postgres(url: &str, needle: &str) -> Vec<String> {
    // The test server's superuser: row-level security does not hide rows from it.
    let mut db = sqlx::PgConnection::connect(url).await.expect("postgres");
    let columns = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text \
         FROM information_schema.columns c JOIN information_schema.tables t \
           ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut db)
    .await
    .expect("schema");
    assert!(columns.len() > 20, "the schema was read");
    let mut hits = Vec::new();
    for row in columns {
        let (table, column, kind): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let text = if kind == "bytea" {
            format!("encode(\"{column}\", 'escape')")
        } else {
            format!("\"{column}\"::text")
        };
        let sql = format!("SELECT COUNT(*) FROM \"{table}\" WHERE strpos({text}, $1) > 0");
        let (count,): (i64,) = sqlx::query_as(&sql)
            .bind(needle)
            .fetch_one(&mut db)
            .await
            .expect("scan");
        if count > 0 {
            hits.push(format!("{table}.{column}"));
        }
    }
    hits
}

/// Asserts that `token` (and so any link holding it) is nowhere in the database.
pub(crate) async fn assert_absent(app: &TestApp, backend: Backend, token: &str, when: &str) {
    let found = find_in_database(app, backend, token).await;
    assert!(found.is_empty(), "{backend:?}, {when}: token in {found:?}");
}

/// Asserts that a freshly issued `token` is nowhere in the database while its hash is:
/// the scan does see the rows that matter.
pub(crate) async fn assert_only_hashed(app: &TestApp, backend: Backend, token: &str, when: &str) {
    assert_absent(app, backend, token, when).await;
    let hash = hex::encode(Sha256::digest(token.as_bytes()));
    let hashed = find_in_database(app, backend, &hash).await;
    assert!(
        !hashed.is_empty(),
        "{backend:?}, {when}: the scan did not find the token's hash"
    );
}

/// Delivers everything, except to addresses containing `bounce`: those are refused
/// for good, so their jobs are dead-lettered.
#[derive(Debug, Default)]
struct Outbox {
    delivered: Mutex<Vec<OutgoingEmail>>,
}

#[async_trait::async_trait]
impl MailTransport for Outbox {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), MailError> {
        if email.to.contains("bounce") {
            return Err(MailError::Permanent("550 mailbox unavailable".to_owned()));
        }
        self.delivered.lock().expect("outbox").push(email.clone());
        Ok(())
    }
}

/// Runs the real worker until no `mail.send` job waits (20 s at most).
async fn deliver_all(app: &TestApp, outbox: Arc<Outbox>) {
    let registry = Registry::new().register(SendEmail {
        transport: outbox,
        seal: JobSeal::from_master(app.master()),
    });
    let config = WorkerConfig {
        poll_interval: Duration::from_millis(20),
        ..WorkerConfig::default()
    };
    let shutdown = CancellationToken::new();
    let worker =
        tokio::spawn(Worker::new(app.store.clone(), registry, config).run(shutdown.clone()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let jobs = app.store.list_jobs(None, 1000).await.expect("jobs");
        let waiting = jobs
            .iter()
            .filter(|job| job.kind == SendEmail::KIND)
            .filter(|job| matches!(job.state, JobState::Queued | JobState::Running))
            .count();
        if waiting == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{waiting} messages never went");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("the worker stops")
        .expect("worker");
}

#[tokio::test]
async fn emailed_tokens_rest_only_hashed() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let mut tokens = Vec::new();

        // Registration, then a resend: each mails a verification link.
        let ada = Caller::registered(&app, "ada@example.com").await;
        let first = mailed_token(&app, "ada@example.com", "verify-email?token=").await;
        assert_only_hashed(&app, backend, &first, "registered").await;
        let resent = ada.post(&app, "/v1/auth/email/resend", json!({})).await;
        assert_eq!(resent.status, 202, "{}", resent.text());
        let verify = mailed_token(&app, "ada@example.com", "verify-email?token=").await;
        assert_ne!(verify, first, "a new link");
        assert_only_hashed(&app, backend, &verify, "resent").await;
        tokens.push(verify.clone());
        let verified = ada
            .post(&app, "/v1/auth/email/verify", json!({"token": verify}))
            .await;
        assert_eq!(verified.status, 204, "{}", verified.text());

        // Password recovery.
        let forgot = app
            .call(
                axum::http::Method::POST,
                "/v1/auth/password/forgot",
                "application/json",
                json!({"email": "ada@example.com"}).to_string(),
            )
            .await;
        assert_eq!(forgot.status, 202, "{}", forgot.text());
        let reset = wait_for_token(&app, "ada@example.com", "reset-password?token=").await;
        assert_only_hashed(&app, backend, &reset, "password forgotten").await;
        tokens.push(reset);

        // Invitations: one delivered, one refused for good by the recipient's server.
        let org = ada.create_org(&app, "Sealed").await;
        for to in ["bob@example.com", "bounce@example.com"] {
            let invited = ada
                .post(
                    &app,
                    &format!("/v1/orgs/{org}/invitations"),
                    json!({"email": to}),
                )
                .await;
            assert_eq!(invited.status, 201, "{}", invited.text());
            let token = mailed_token(&app, to, "accept-invitation?token=").await;
            assert_only_hashed(&app, backend, &token, "invited").await;
            tokens.push(token);
        }

        // Delivered jobs drop their payload; the dead letter keeps only the sealed form.
        let outbox = Arc::new(Outbox::default());
        deliver_all(&app, outbox.clone()).await;
        let delivered = outbox.delivered.lock().expect("outbox").clone();
        assert_eq!(delivered.len(), 4, "every message but the bounced one");
        let jobs = app.store.list_jobs(None, 1000).await.expect("jobs");
        let mail: Vec<_> = jobs.iter().filter(|j| j.kind == SendEmail::KIND).collect();
        assert!(
            mail.iter()
                .filter(|j| j.state == JobState::Succeeded)
                .all(|j| j.payload == json!({})),
            "{mail:?}"
        );
        let dead: Vec<_> = mail.iter().filter(|j| j.state == JobState::Dead).collect();
        assert_eq!(dead.len(), 1, "{mail:?}");
        assert!(dead[0].payload["sealed"].is_string(), "{:?}", dead[0]);
        for token in &tokens {
            assert_absent(&app, backend, token, "after delivery").await;
        }
    }
}

/// The reset email is queued apart from the request (the answer is the same whether the
/// account exists), so it may land a moment after the 202.
async fn wait_for_token(app: &TestApp, to: &str, page: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let waiting = app
            .queued_mail()
            .await
            .iter()
            .any(|mail| mail.to.contains(to) && mail.text.contains(page));
        if waiting {
            return mailed_token(app, to, page).await;
        }
        assert!(Instant::now() < deadline, "no {page} email to {to}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
