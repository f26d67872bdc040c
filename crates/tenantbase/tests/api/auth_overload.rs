//! A sign-in flood beyond what argon2 can serve is shed at once — 503 `overloaded` with
//! `Retry-After` — instead of queueing into the request timeout; on the real binary, so
//! the `auth.argon2.*` keys are what sets the bounds.

use std::time::Instant;

use futures::future::join_all;
use serde_json::{Value, json};

use crate::auth_throttle::client_from;
use crate::process::{Server, tenantbase};

/// Sign-ins sent at once, each from its own loopback address so that per-IP limits stay
/// out of the picture.
const FLOOD: usize = 24;

#[tokio::test]
async fn a_login_flood_beyond_the_hash_queue_is_shed_at_once_with_retry_after() {
    let dir = tempfile::tempdir().expect("dir");
    let mut command = tenantbase(dir.path());
    command
        .env("TENANTBASE_AUTH__ARGON2__MAX_CONCURRENT", "1")
        .env("TENANTBASE_AUTH__ARGON2__MAX_QUEUED", "2")
        .env("TENANTBASE_JOBS__WORKERS", "0");
    let server = Server::start(&mut command);
    let started = Instant::now();
    let logins = (0..FLOOD).map(|n| {
        let client = client_from(&format!("127.0.1.{}", n + 1));
        let url = server.url("/v1/auth/login");
        async move {
            let response = client
                .post(url)
                .json(&json!({"email": format!("nobody{n}@example.com"), "password": "a wrong guess 12345"}))
                .send()
                .await
                .expect("login");
            let answered = started.elapsed();
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let problem: Value = response.json().await.expect("problem body");
            (status, retry_after, problem, answered)
        }
    });
    let answers = join_all(logins).await;

    let checked: Vec<_> = answers.iter().filter(|a| a.0 == 401).collect();
    let shed: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert_eq!(
        checked.len() + shed.len(),
        FLOOD,
        "only checked (401) or shed (503): {:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(!checked.is_empty(), "some sign-ins are still served");
    assert!(
        !shed.is_empty(),
        "one slot and two places cannot take {FLOOD} at once"
    );
    for (_, retry_after, problem, _) in &shed {
        assert_eq!(problem["code"], "overloaded", "{problem}");
        assert!(
            retry_after.is_some_and(|s| s >= 1),
            "Retry-After: {retry_after:?}"
        );
        assert_eq!(problem["retry_after"].as_u64(), *retry_after);
    }
    for (_, _, problem, _) in &checked {
        assert_eq!(problem["code"], "invalid_credentials", "{problem}");
    }
    // At once: a refusal happens only while the queue is full, so every 503 left before
    // the last admitted sign-in finished hashing — none waited its way into a refusal.
    let last_checked = checked.iter().map(|a| a.3).max().expect("some checked");
    let last_shed = shed.iter().map(|a| a.3).max().expect("some shed");
    assert!(
        last_shed < last_checked,
        "shed after {last_shed:?}, served until {last_checked:?}"
    );
}
