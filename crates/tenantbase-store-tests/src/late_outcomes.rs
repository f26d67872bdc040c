//! Conformance tests of outcomes reported after their lease ran out (the worker was slow
//! to record them): one lands while nobody else can have run the job, never over a
//! newer claim.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use tenantbase_domain::model::{JobClaim, JobState};
use tenantbase_store::Store;
use tenantbase_store::platform::jobs::NewJob;

use crate::jobs::enqueue;

/// The lease of every claim here: 10 s, then [`lapsed`].
const SHORT_LEASE: Duration = Duration::from_secs(10);

/// Enqueues a job of `kind` due at `now` and claims it for `worker` on a short lease.
async fn claimed(
    store: &dyn Store,
    kind: &str,
    worker: &str,
    max_attempts: u32,
    now: DateTime<Utc>,
) -> JobClaim {
    let job = NewJob::new(kind, json!({"n": 1}))
        .max_attempts(max_attempts)
        .at(now);
    let id = enqueue(store, job).await.id();
    let claim = claim_one(store, kind, worker, now).await;
    assert_eq!(claim.map(|claim| claim.id), Some(id));
    claim.expect("claimed")
}

/// The one job of `kind` that `worker` can claim at `now`, if any.
async fn claim_one(
    store: &dyn Store,
    kind: &str,
    worker: &str,
    now: DateTime<Utc>,
) -> Option<JobClaim> {
    let claimed = store
        .claim_jobs(worker, &[kind], now, SHORT_LEASE, 1)
        .await
        .expect("claim");
    claimed.first().map(|job| job.claim())
}

/// When a lease taken at `now` has run out.
fn lapsed(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::seconds(11)
}

/// Claims `kind` after `claim`'s lease lapsed on its last attempt, which dead-letters
/// the job as lost instead of running it again.
async fn lose(store: &dyn Store, kind: &str, claim: JobClaim, at: DateTime<Utc>) {
    assert_eq!(claim_one(store, kind, "w2", at).await, None);
    let dead = store.get_job(claim.id).await.expect("get");
    assert_eq!(
        (dead.state, dead.last_error.as_deref()),
        (
            JobState::Dead,
            Some("worker slow was lost during the last attempt")
        )
    );
}

pub async fn late_success_of_a_lost_last_attempt_lands(store: &dyn Store) {
    let now = Utc::now();
    let claim = claimed(store, "late.success", "slow", 1, now).await;
    let later = lapsed(now);
    lose(store, "late.success", claim, later).await;

    assert_eq!(
        store
            .complete_jobs(&[claim], "w2", later)
            .await
            .expect("complete"),
        0,
        "not w2's claim"
    );
    assert_eq!(
        store
            .complete_jobs(&[claim], "slow", later)
            .await
            .expect("complete"),
        1,
        "nobody ran it since: the work was done"
    );
    let job = store.get_job(claim.id).await.expect("get");
    assert_eq!(
        (job.state, job.attempts, job.payload),
        (JobState::Succeeded, 1, json!({}))
    );
    assert_eq!(
        store
            .complete_jobs(&[claim], "slow", later)
            .await
            .expect("complete"),
        0,
        "recorded once"
    );
    assert!(
        !store
            .fail_job(claim, "slow", "late", None, later)
            .await
            .expect("fail"),
        "a success stays one"
    );
    assert_eq!(
        store.get_job(claim.id).await.expect("get").state,
        JobState::Succeeded
    );
}

pub async fn late_outcomes_leave_a_newer_claim_alone(store: &dyn Store) {
    let now = Utc::now();
    let later = lapsed(now);
    let retry_at = later + chrono::Duration::seconds(5);
    // Another worker, then the same one, takes over a lapsed lease that was not the last
    // attempt: the first run's report (success or failure) is stale either way.
    for (kind, next_worker) in [("late.taken", "w2"), ("late.retaken", "slow")] {
        let first = claimed(store, kind, "slow", 3, now).await;
        let newer = claim_one(store, kind, next_worker, later).await;
        assert_eq!(newer.map(|claim| claim.attempt), Some(2), "{kind}");
        assert_eq!(
            store
                .complete_jobs(&[first], "slow", later)
                .await
                .expect("complete"),
            0,
            "{kind}"
        );
        assert!(
            !store
                .fail_job(first, "slow", "late", Some(retry_at), later)
                .await
                .expect("fail"),
            "{kind}"
        );
        let job = store.get_job(first.id).await.expect("get");
        assert_eq!(
            (job.state, job.locked_by.as_deref()),
            (JobState::Running, Some(next_worker)),
            "{kind}: still the newer claim's"
        );
        let newer = newer.expect("reclaimed");
        assert_eq!(
            store
                .complete_jobs(&[newer], next_worker, later)
                .await
                .expect("complete"),
            1,
            "{kind}"
        );
    }

    // An operator retried the lost dead letter: the job is queued for a fresh run.
    let lost = claimed(store, "late.retried", "slow", 1, now).await;
    lose(store, "late.retried", lost, later).await;
    let mut unit = store.begin().await.expect("begin");
    unit.retry_job(lost.id, later).await.expect("retry");
    unit.commit().await.expect("commit");
    assert_eq!(
        store
            .complete_jobs(&[lost], "slow", later)
            .await
            .expect("complete"),
        0
    );
    assert_eq!(
        store.get_job(lost.id).await.expect("get").state,
        JobState::Queued
    );
}

pub async fn late_failure_of_a_lost_last_attempt_stays_dead(store: &dyn Store) {
    let now = Utc::now();
    let claim = claimed(store, "late.failure", "slow", 1, now).await;
    let later = lapsed(now);
    lose(store, "late.failure", claim, later).await;

    let retry_at = later + chrono::Duration::seconds(5);
    assert!(
        !store
            .fail_job(claim, "slow", "timed out", Some(retry_at), later)
            .await
            .expect("fail"),
        "a dead letter is never requeued"
    );
    assert!(
        store
            .fail_job(claim, "slow", "smtp down (gave up)", None, later)
            .await
            .expect("fail"),
        "the real reason replaces the lost worker's"
    );
    assert!(
        !store
            .fail_job(claim, "slow", "again", None, later)
            .await
            .expect("fail"),
        "recorded once"
    );
    assert_eq!(
        store
            .complete_jobs(&[claim], "slow", later)
            .await
            .expect("complete"),
        0,
        "settled: no success after its failure"
    );
    let dead = store.get_job(claim.id).await.expect("get");
    assert_eq!(
        (dead.state, dead.attempts, dead.last_error.as_deref()),
        (JobState::Dead, 1, Some("smtp down (gave up)"))
    );
    assert_eq!(claim_one(store, "late.failure", "w3", retry_at).await, None);
    let depth = store.queue_depth().await.expect("depth");
    assert_eq!(
        depth
            .iter()
            .filter(|d| d.kind == "late.failure")
            .map(|d| (d.state, d.count))
            .collect::<Vec<_>>(),
        [(JobState::Dead, 1)]
    );
}
