//! Conformance tests of the job queue.

use std::time::Duration;

use chrono::Utc;
use serde_json::json;
use tenantbase_domain::model::{ClaimedJob, Enqueued, JobClaim, JobState};
use tenantbase_store::platform::jobs::{MAX_PAYLOAD_BYTES, NewJob};
use tenantbase_store::{Store, StoreError};

const LEASE: Duration = Duration::from_secs(30);

pub(crate) async fn enqueue(store: &dyn Store, job: NewJob) -> Enqueued {
    let mut unit = store.begin().await.expect("begin");
    let outcome = unit.enqueue_job(job).await.expect("enqueue");
    unit.commit().await.expect("commit");
    outcome
}

pub async fn enqueue_respects_unique_keys(store: &dyn Store) {
    let first = enqueue(
        store,
        NewJob::new("mail.send", json!({"n": 1})).unique("welcome:usr_1"),
    )
    .await;
    let second = enqueue(
        store,
        NewJob::new("mail.send", json!({"n": 2})).unique("welcome:usr_1"),
    )
    .await;
    assert!(matches!(first, Enqueued::Created(_)));
    assert_eq!(second, Enqueued::Duplicate(first.id()));
    let jobs = store.list_jobs(None, 10).await.expect("list");
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].payload, json!({"n": 1}));
    // Jobs without a key never collide.
    enqueue(store, NewJob::new("mail.send", json!({}))).await;
    enqueue(store, NewJob::new("mail.send", json!({}))).await;
    assert_eq!(
        store
            .list_jobs(Some(JobState::Queued), 10)
            .await
            .expect("list")
            .len(),
        3
    );
}

pub async fn oversized_payloads_are_refused(store: &dyn Store) {
    let mut unit = store.begin().await.expect("begin");
    let big = json!({"blob": "x".repeat(MAX_PAYLOAD_BYTES)});
    let refused = unit.enqueue_job(NewJob::new("mail.send", big)).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
}

pub async fn claimed_jobs_complete_once(store: &dyn Store) {
    let due = enqueue(store, NewJob::new("a", json!({"k": "v"})))
        .await
        .id();
    let later = enqueue(
        store,
        NewJob::new("b", json!({"n": 2})).at(Utc::now() + chrono::Duration::hours(1)),
    )
    .await
    .id();
    let now = Utc::now();

    let claimed = store
        .claim_jobs("w1", &["a", "b"], now, LEASE, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1, "only due jobs are claimed");
    assert_eq!((claimed[0].id, claimed[0].attempts), (due, 1));
    assert_eq!(claimed[0].payload, json!({"k": "v"}));
    let claim = claimed[0].claim();
    assert!(
        store
            .claim_jobs("w2", &["a", "b"], now, LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );

    assert_eq!(
        store
            .complete_jobs(&[claim], "w2", now)
            .await
            .expect("complete"),
        0,
        "not w2's job"
    );
    assert_eq!(
        store
            .complete_jobs(
                &[
                    claim,
                    JobClaim {
                        id: later,
                        attempt: 1
                    }
                ],
                "w1",
                now
            )
            .await
            .expect("complete"),
        1,
        "only held jobs"
    );
    assert_eq!(
        store
            .complete_jobs(&[claim], "w1", now)
            .await
            .expect("complete"),
        0,
        "only once"
    );
    let job = store.get_job(due).await.expect("get");
    assert_eq!(job.state, JobState::Succeeded);
    assert_eq!(job.locked_by.as_deref(), Some("w1"));
    assert_eq!(job.payload, json!({}), "a finished job keeps no payload");
    let later = store.get_job(later).await.expect("get");
    assert_eq!(
        (later.state, later.payload),
        (JobState::Queued, json!({"n": 2})),
        "an unfinished job keeps its payload"
    );
}

pub async fn failed_jobs_retry_then_die(store: &dyn Store) {
    let id = enqueue(store, NewJob::new("flaky", json!({"n": 3})).max_attempts(2))
        .await
        .id();
    let now = Utc::now();
    let first = store
        .claim_jobs("w", &["flaky"], now, LEASE, 1)
        .await
        .expect("claim");
    let retry_at = now + chrono::Duration::seconds(5);
    assert!(
        store
            .fail_job(first[0].claim(), "w", "smtp down", Some(retry_at), now)
            .await
            .expect("fail")
    );
    let job = store.get_job(id).await.expect("get");
    assert_eq!(
        (job.state, job.last_error.as_deref()),
        (JobState::Queued, Some("smtp down"))
    );
    assert!(
        store
            .claim_jobs("w", &["flaky"], now, LEASE, 1)
            .await
            .expect("claim")
            .is_empty(),
        "backing off"
    );

    let claimed = store
        .claim_jobs("w", &["flaky"], retry_at, LEASE, 1)
        .await
        .expect("claim");
    assert_eq!(claimed[0].attempts, 2);
    assert!(
        store
            .fail_job(claimed[0].claim(), "w", "still down", None, retry_at)
            .await
            .expect("fail")
    );
    let dead = store.get_job(id).await.expect("get");
    assert_eq!(dead.state, JobState::Dead);
    assert_eq!(dead.last_error.as_deref(), Some("still down"));
    assert_eq!(
        dead.payload,
        json!({"n": 3}),
        "a dead letter keeps it, to retry"
    );
    assert!(dead.finished_at.is_some());
    let depth = store.queue_depth().await.expect("depth");
    assert!(
        depth
            .iter()
            .any(|d| d.kind == "flaky" && d.state == JobState::Dead && d.count == 1)
    );
}

pub async fn expired_leases_are_reclaimed(store: &dyn Store) {
    let id = enqueue(store, NewJob::new("slow", json!({}))).await.id();
    let now = Utc::now();
    let crashed = store
        .claim_jobs("crashed", &["slow"], now, Duration::from_secs(10), 1)
        .await
        .expect("claim");
    let before_expiry = now + chrono::Duration::seconds(9);
    assert!(
        store
            .claim_jobs("w2", &["slow"], before_expiry, LEASE, 1)
            .await
            .expect("claim")
            .is_empty()
    );
    let after_expiry = now + chrono::Duration::seconds(11);
    let reclaimed = store
        .claim_jobs("w2", &["slow"], after_expiry, LEASE, 1)
        .await
        .expect("claim");
    assert_eq!((reclaimed[0].id, reclaimed[0].attempts), (id, 2));
    assert_eq!(
        store
            .complete_jobs(&[crashed[0].claim()], "crashed", after_expiry)
            .await
            .expect("complete"),
        0
    );
    assert_eq!(
        store
            .complete_jobs(&[reclaimed[0].claim()], "w2", after_expiry)
            .await
            .expect("complete"),
        1
    );
}

pub async fn lost_workers_last_attempts_are_dead_lettered(store: &dyn Store) {
    let id = enqueue(store, NewJob::new("oom", json!({"n": 1})).max_attempts(2))
        .await
        .id();
    let now = Utc::now();
    let lease = Duration::from_secs(10);
    store
        .claim_jobs("w1", &["oom", "other"], now, lease, 1)
        .await
        .expect("claim");
    let second = now + chrono::Duration::seconds(11);
    let reclaimed = store
        .claim_jobs("w2", &["oom", "other"], second, lease, 1)
        .await
        .expect("claim");
    assert_eq!((reclaimed[0].id, reclaimed[0].attempts), (id, 2));

    // w2 dies too, on the last attempt: the next claim buries the job instead of running it.
    let other = enqueue(store, NewJob::new("other", json!({}))).await.id();
    let third = second + chrono::Duration::seconds(11);
    let claimed = store
        .claim_jobs("w3", &["oom", "other"], third, LEASE, 10)
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
        [other],
        "only the due job runs"
    );
    let dead = store.get_job(id).await.expect("get");
    assert_eq!((dead.state, dead.attempts), (JobState::Dead, 2));
    assert_eq!(
        dead.last_error.as_deref(),
        Some("worker w2 was lost during the last attempt")
    );
    assert_eq!(
        dead.finished_at.map(|at| at.timestamp_micros()),
        Some(third.timestamp_micros())
    );
    assert_eq!(dead.payload, json!({"n": 1}), "kept, to retry");
    retry(store, id, third)
        .await
        .expect("a dead letter can be retried");
}

pub async fn claims_take_only_the_given_kinds(store: &dyn Store) {
    let mail = enqueue(store, NewJob::new("mail.send", json!({})))
        .await
        .id();
    let archive = enqueue(store, NewJob::new("audit.archive", json!({})))
        .await
        .id();
    let now = Utc::now();
    assert!(
        store
            .claim_jobs("none", &[], now, LEASE, 10)
            .await
            .expect("claim")
            .is_empty(),
        "a worker without handlers claims nothing"
    );
    let claimed = store
        .claim_jobs("mailer", &["mail.send", "org.purge"], now, LEASE, 10)
        .await
        .expect("claim");
    assert_eq!(claimed.iter().map(|job| job.id).collect::<Vec<_>>(), [mail]);
    let queued = store.get_job(archive).await.expect("get");
    assert_eq!((queued.state, queued.attempts), (JobState::Queued, 0));
    let claimed = store
        .claim_jobs("archiver", &["audit.archive"], now, LEASE, 10)
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|job| job.id).collect::<Vec<_>>(),
        [archive]
    );
}

async fn retry(
    store: &dyn Store,
    id: tenantbase_domain::JobId,
    now: chrono::DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut unit = store.begin().await?;
    unit.retry_job(id, now).await?;
    unit.commit().await
}

pub async fn dead_jobs_can_be_retried(store: &dyn Store) {
    let id = enqueue(store, NewJob::new("x", json!({})).max_attempts(1))
        .await
        .id();
    let now = Utc::now();
    assert!(
        matches!(retry(store, id, now).await, Err(StoreError::NotFound)),
        "not dead yet"
    );
    let claimed = store
        .claim_jobs("w", &["x"], now, LEASE, 1)
        .await
        .expect("claim");
    store
        .fail_job(claimed[0].claim(), "w", "boom", None, now)
        .await
        .expect("fail");
    retry(store, id, now).await.expect("retry");
    let job = store.get_job(id).await.expect("get");
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0));
    assert_eq!(
        store
            .claim_jobs("w", &["x"], now, LEASE, 1)
            .await
            .expect("claim")
            .len(),
        1
    );
}

pub async fn completions_are_batched(store: &dyn Store) {
    for _ in 0..50 {
        enqueue(store, NewJob::new("batch", json!({}))).await;
    }
    let now = Utc::now();
    let claims: Vec<_> = store
        .claim_jobs("w", &["batch"], now, LEASE, 100)
        .await
        .expect("claim")
        .iter()
        .map(ClaimedJob::claim)
        .collect();
    assert_eq!(claims.len(), 50);
    assert_eq!(
        store
            .complete_jobs(&claims, "w", now)
            .await
            .expect("complete"),
        50
    );
    assert_eq!(
        store
            .list_jobs(Some(JobState::Succeeded), 100)
            .await
            .expect("list")
            .len(),
        50
    );
    assert_eq!(
        store.complete_jobs(&[], "w", now).await.expect("nothing"),
        0
    );
}

pub async fn finished_jobs_are_cleaned_up(store: &dyn Store) {
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(enqueue(store, NewJob::new("x", json!({}))).await.id());
    }
    let pending = enqueue(store, NewJob::new("y", json!({}))).await.id();
    let now = Utc::now();
    let claimed = store
        .claim_jobs("w", &["x"], now, LEASE, 3)
        .await
        .expect("claim");
    let claims: Vec<_> = claimed.iter().map(|job| job.claim()).collect();
    store
        .complete_jobs(&claims, "w", now)
        .await
        .expect("complete");
    assert_eq!(
        store.delete_finished_jobs(now, 10).await.expect("delete"),
        0,
        "not older than cutoff"
    );
    let later = now + chrono::Duration::seconds(1);
    assert_eq!(
        store.delete_finished_jobs(later, 2).await.expect("delete"),
        2,
        "at most the limit"
    );
    assert_eq!(
        store.delete_finished_jobs(later, 2).await.expect("delete"),
        1
    );
    assert_eq!(
        store.delete_finished_jobs(later, 2).await.expect("delete"),
        0
    );
    for id in ids {
        assert!(matches!(store.get_job(id).await, Err(StoreError::NotFound)));
    }
    let kept = store.get_job(pending).await.expect("a queued job stays");
    assert_eq!(kept.state, JobState::Queued);
}
