//! The audit sealer of the real binary, on both backends: events that requests recorded
//! are sealed into unbroken chains soon after the writes stop, and `/metrics` shows the
//! backlog and the delay.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::hangups::Target;
use crate::process::client;

/// How soon after the last write every event must be sealed: the sealer runs every
/// 100 ms by default; the rest is slack for a debug build on a shared machine.
const BOUND: Duration = Duration::from_secs(5);

/// Writers posting into one org at once, and posts per writer.
const WRITERS: usize = 4;
const POSTS: usize = 25;

#[tokio::test]
async fn events_are_sealed_soon_after_writes_stop_on_sqlite() {
    events_are_sealed_soon_after_writes_stop(false).await;
}

#[tokio::test]
async fn events_are_sealed_soon_after_writes_stop_on_postgres() {
    events_are_sealed_soon_after_writes_stop(true).await;
}

async fn events_are_sealed_soon_after_writes_stop(postgres: bool) {
    let target = Target::start(postgres).await;
    let (token, org) = target.server.guest_with_org("sealed").await;
    let projects = target.url(&format!("/v1/orgs/{org}/projects"));
    let writers = (0..WRITERS).map(|w| {
        let (projects, token) = (projects.clone(), token.clone());
        tokio::spawn(async move {
            let client = client();
            for n in 0..POSTS {
                let created = client
                    .post(&projects)
                    .bearer_auth(&token)
                    .json(&json!({"name": format!("p{w}.{n}")}))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(created.status(), 201);
            }
        })
    });
    for writer in writers.collect::<Vec<_>>() {
        writer.await.expect("writer");
    }
    let stopped = Instant::now();

    let metrics = target.url("/metrics");
    loop {
        let text = client()
            .get(&metrics)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        // The backlog is read from the database, the delays recorded by the sealer just
        // after its commit: the two may be a moment apart.
        let sealed = gauge(&text, "audit_seal_delay_seconds_count").unwrap_or_default();
        if gauge(&text, "audit_events_unsealed") == Some(0.0) && sealed >= (WRITERS * POSTS) as f64
        {
            break;
        }
        assert!(stopped.elapsed() < BOUND, "events still unsealed:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (ok, stdout, stderr) = target.audit_verify();
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("{org}: ok {} events", WRITERS * POSTS + 1)),
        "the org's creation and every project, sealed: {stdout}"
    );
    assert!(!stdout.contains("not yet sealed"), "{stdout}");
}

/// The value of an unlabelled metric in Prometheus text.
fn gauge(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}
