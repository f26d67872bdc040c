//! `tenantbase audit …` and `tenantbase jobs …` against a database the test fills.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tenantbase_core::audit::seal::seal_all;
use tenantbase_domain::OrgId;
use tenantbase_domain::model::{Actor, RequestMeta};
use tenantbase_store::Store;
use tenantbase_store::platform::events::NewEvent;
use tenantbase_store::platform::jobs::NewJob;

use crate::process::{migrated_sqlite, output, tenantbase};

/// A user agent is the client's to choose: a formula, in these events.
const UA_FORMULA: &str = "=HYPERLINK(\"http://attacker.example/\",\"open\")";

/// Records `n` events in `org`'s chain and seals them, as a server's sealer would.
async fn append(store: &dyn Store, org: OrgId, n: usize) {
    record(store, org, n).await;
    seal_all(store).await.expect("seal");
}

async fn record(store: &dyn Store, org: OrgId, n: usize) {
    for i in 0..n {
        let mut unit = store.begin().await.expect("begin");
        unit.append_event(NewEvent {
            org_id: Some(org),
            event_type: format!("project.updated.{i}"),
            actor: Actor::System,
            target: None,
            request: RequestMeta {
                user_agent: Some(UA_FORMULA.to_owned()),
                ..RequestMeta::default()
            },
            payload: json!({"i": i, "note": "comma, \"quote\""}),
        })
        .await
        .expect("append");
        unit.commit().await.expect("commit");
    }
}

#[tokio::test]
async fn verify_reports_ok_then_pinpoints_an_edit_with_exit_code_1() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, url) = migrated_sqlite(dir.path()).await;
    let org = OrgId::new();
    append(store.as_ref(), org, 5).await;

    let (ok, stdout, _) = output(tenantbase(dir.path()).args(["audit", "verify"]));
    assert!(ok);
    assert_eq!(stdout.trim(), format!("{org}: ok 5 events"));

    let third = store
        .events_after(&org.to_string(), 2, 1)
        .await
        .expect("event")[0]
        .clone();
    let raw = sqlx::SqlitePool::connect(&url).await.expect("raw");
    sqlx::query("UPDATE events SET event_type = 'forged' WHERE id = ?")
        .bind(third.id.as_uuid())
        .execute(&raw)
        .await
        .expect("tamper");
    let (ok, stdout, _) =
        output(tenantbase(dir.path()).args(["audit", "verify", "--org", &org.to_string()]));
    assert!(!ok, "exit code 1 on a broken chain");
    assert!(stdout.contains(&third.id.to_string()), "{stdout}");
    assert!(
        stdout.contains("(seq 3)") && stdout.contains(&format!("found {}", third.hash)),
        "{stdout}"
    );
}

#[tokio::test]
async fn verify_reports_unsealed_events_beside_the_chain_without_failing() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = migrated_sqlite(dir.path()).await;
    let org = OrgId::new();
    append(store.as_ref(), org, 2).await;
    record(store.as_ref(), org, 3).await;

    let (ok, stdout, stderr) = output(tenantbase(dir.path()).args(["audit", "verify"]));
    assert!(ok, "pending events are no failure: {stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], format!("{org}: ok 2 events"), "{stdout}");
    assert!(
        lines[1].starts_with(&format!("{org}: 3 events not yet sealed, oldest ")),
        "{stdout}"
    );
    assert!(!stdout.contains("WARNING"), "{stdout}");
}

#[tokio::test]
async fn export_streams_jsonl_and_csv() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = migrated_sqlite(dir.path()).await;
    let org = OrgId::new();
    append(store.as_ref(), org, 3).await;

    let (ok, jsonl, stderr) =
        output(tenantbase(dir.path()).args(["audit", "export", "--org", &org.to_string()]));
    assert!(ok, "{stderr}");
    let lines: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[2]["payload"]["i"], 2);
    assert_eq!(lines[2]["user_agent"], UA_FORMULA);

    let (ok, csv, _) = output(tenantbase(dir.path()).args([
        "audit",
        "export",
        "--org",
        &org.to_string(),
        "--format",
        "csv",
    ]));
    assert!(ok);
    assert_eq!(csv.lines().count(), 4, "header and three rows: {csv}");
    assert!(
        csv.contains(r#""{""i"":0,""note"":""comma, \""quote\""""}""#),
        "{csv}"
    );
    // Opened in a spreadsheet, the user agent is text, not a formula.
    assert_eq!(csv.matches(r#","'=HYPERLINK(""http"#).count(), 3, "{csv}");

    let future = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (ok, none, _) = output(tenantbase(dir.path()).args([
        "audit",
        "export",
        "--org",
        &org.to_string(),
        "--since",
        &future,
    ]));
    assert!(ok && none.is_empty());
    let (ok, _, stderr) =
        output(tenantbase(dir.path()).args(["audit", "export", "--org", "usr_1"]));
    assert!(!ok && stderr.contains("org_"), "{stderr}");
}

#[tokio::test]
async fn archive_moves_old_events_to_the_object_store() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = migrated_sqlite(dir.path()).await;
    let org = OrgId::new();
    append(store.as_ref(), org, 4).await;
    let (ok, stdout, stderr) =
        output(tenantbase(dir.path()).args(["audit", "archive", "--older-than-days", "0"]));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains(&format!("archived {org} seq 1..=4 (4 events)")),
        "{stdout}"
    );
    // The folder of the archives that start after the chain's first anchor.
    let archived = dir
        .path()
        .join(format!("data/files/audit/{org}/000000000001"));
    assert_eq!(
        std::fs::read_dir(archived).expect("archive folder").count(),
        2,
        "object and manifest"
    );
    let (ok, stdout, _) = output(tenantbase(dir.path()).args(["audit", "verify"]));
    assert!(ok, "{stdout}");
    assert!(
        store.unsealed_chains().await.expect("unsealed").is_empty(),
        "the command seals what it recorded"
    );
    let platform = store.events_after("platform", 0, 10).await.expect("events");
    assert_eq!(
        platform
            .iter()
            .map(|event| event.event_type.as_str())
            .collect::<Vec<_>>(),
        ["audit.archived"]
    );
}

#[tokio::test]
async fn jobs_cli_lists_dead_jobs_and_retries_them() {
    let dir = tempfile::tempdir().expect("dir");
    let (store, _) = migrated_sqlite(dir.path()).await;
    let mut unit = store.begin().await.expect("begin");
    let id = unit
        .enqueue_job(NewJob::new("mail.send", json!({})).max_attempts(1))
        .await
        .expect("enqueue")
        .id();
    unit.commit().await.expect("commit");
    let now = Utc::now();
    let claimed = store
        .claim_jobs("test", &["mail.send"], now, Duration::from_secs(30), 1)
        .await
        .expect("claim");
    store
        .fail_job(
            claimed[0].claim(),
            "test",
            "smtp: connection refused",
            None,
            now,
        )
        .await
        .expect("fail");

    let (ok, dead, _) = output(tenantbase(dir.path()).args(["jobs", "dead"]));
    assert!(ok);
    assert!(
        dead.contains(&id.to_string()) && dead.contains("smtp: connection refused"),
        "{dead}"
    );

    let (ok, retried, _) = output(tenantbase(dir.path()).args(["jobs", "retry", &id.to_string()]));
    assert!(ok);
    assert_eq!(retried.trim(), format!("{id} queued again"));
    let (ok, events, _) =
        output(tenantbase(dir.path()).args(["audit", "export", "--org", "platform"]));
    assert!(
        ok && events.contains("job.retried") && events.contains(&id.to_string()),
        "the retry is audited: {events}"
    );
    let (ok, queued, _) =
        output(tenantbase(dir.path()).args(["jobs", "list", "--state", "queued"]));
    assert!(ok && queued.contains(&id.to_string()), "{queued}");

    let (ok, _, stderr) = output(tenantbase(dir.path()).args(["jobs", "retry", &id.to_string()]));
    assert!(!ok && stderr.contains("not a dead job"), "{stderr}");
    let (ok, _, stderr) =
        output(tenantbase(dir.path()).args(["jobs", "list", "--state", "sleeping"]));
    assert!(!ok && stderr.contains("unknown job state"), "{stderr}");
}
