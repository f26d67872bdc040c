//! The store conformance suite. Each test is an `async fn(&dyn Store)` over a freshly
//! migrated store; `conformance_suite!` turns the whole list into `#[tokio::test]`s in a
//! backend crate, so both backends pass exactly the same tests.

mod events;
mod files;
mod identity;
mod jobs;
mod late_outcomes;
mod orgs;
mod retention;
mod sealing;
mod second_steps;

pub use events::*;
pub use files::*;
pub use identity::*;
pub use jobs::*;
pub use late_outcomes::*;
pub use orgs::*;
pub use retention::*;
pub use sealing::*;
pub use second_steps::*;
use serde_json::json;
use tenantbase_store::{Store, StoreError};

/// Expands to one `#[tokio::test]` per conformance test. `$fresh` is an async fn
/// returning `(store, guard)`: a migrated store on an empty database and whatever must
/// live until the test ends (a temporary directory, a test database).
#[macro_export]
macro_rules! conformance_suite {
    ($fresh:path) => {
        $crate::conformance_suite!(@each $fresh;
            migrate_is_idempotent,
            ping_answers,
            settings_round_trip,
            settings_put_replaces,
            settings_delete_missing_is_not_found,
            settings_keep_any_json,
            events_form_one_chain_per_org,
            events_appended_together_keep_their_order,
            concurrent_appends_keep_one_unbroken_chain,
            recorded_events_await_the_sealer,
            racing_sealers_never_fork_a_chain,
            uncommitted_units_leave_nothing,
            units_commit_event_and_job_together,
            enqueue_respects_unique_keys,
            oversized_payloads_are_refused,
            claimed_jobs_complete_once,
            failed_jobs_retry_then_die,
            expired_leases_are_reclaimed,
            lost_workers_last_attempts_are_dead_lettered,
            late_success_of_a_lost_last_attempt_lands,
            late_outcomes_leave_a_newer_claim_alone,
            late_failure_of_a_lost_last_attempt_stays_dead,
            claims_take_only_the_given_kinds,
            dead_jobs_can_be_retried,
            completions_are_batched,
            finished_jobs_are_cleaned_up,
            truncating_a_chain_sets_its_anchor,
            emails_are_unique_and_guests_have_none,
            refresh_tokens_rotate_once_and_reuse_is_detected,
            concurrent_refreshes_yield_one_successor,
            sessions_are_listed_and_revoked,
            sign_in_context_finds_the_excess_and_known_devices,
            sessions_opened_by_an_identity_or_a_passkey_are_revoked_with_it,
            signing_keys_are_kept_and_retired,
            single_use_tokens_expire_are_replaced_and_work_once,
            ended_sessions_tokens_and_devices_are_pruned_in_batches,
            ended_challenges_codes_and_flows_are_pruned_in_batches,
            expired_invitations_of_every_org_are_pruned_in_batches,
            starting_a_flow_deletes_a_bounded_batch_of_expired_ones,
            ceremonies_are_taken_once_by_their_purpose_user_session_and_challenge,
            emailed_codes_are_kept_one_per_purpose,
            trusted_devices_are_kept_to_the_newest_of_a_bounded_number,
            a_challenge_is_used_with_its_user_and_factors,
            sign_in_methods_but_the_password_are_removed_for_one_user,
            files_are_listed_filtered_and_counted_per_org,
            a_users_orgs_are_the_live_ones_they_belong_to,
            projects_are_purged_in_bounded_units,
            creators_are_charged_for_their_orgs_until_purged,
            profiles_round_trip,
        );
    };
    (@each $fresh:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let (store, _guard) = $fresh().await;
                $crate::$name(&store).await;
            }
        )*
    };
}

pub async fn migrate_is_idempotent(store: &dyn Store) {
    let again = store.migrate().await.expect("migrate again");
    assert!(again.applied.is_empty(), "nothing left to apply: {again:?}");
    assert!(again.already_applied >= 1);
}

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.expect("ping");
    let stats = store.pool_stats();
    assert!(stats.size >= 1 && stats.size <= stats.max, "{stats:?}");
}

pub async fn settings_round_trip(store: &dyn Store) {
    assert!(store.get_setting("site.name").await.expect("get").is_none());
    let put = store
        .put_setting("site.name", &json!("Acme"))
        .await
        .expect("put");
    let got = store
        .get_setting("site.name")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.value, json!("Acme"));
    assert_eq!(got.key, "site.name");
    // Backends keep at least microseconds; compare at that precision.
    assert_eq!(
        got.updated_at.timestamp_micros(),
        put.updated_at.timestamp_micros()
    );
}

pub async fn settings_put_replaces(store: &dyn Store) {
    store
        .put_setting("limits", &json!({"a": 1}))
        .await
        .expect("put");
    store
        .put_setting("limits", &json!({"a": 2}))
        .await
        .expect("put again");
    let got = store
        .get_setting("limits")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.value, json!({"a": 2}));
}

pub async fn settings_delete_missing_is_not_found(store: &dyn Store) {
    store.put_setting("gone", &json!(true)).await.expect("put");
    store.delete_setting("gone").await.expect("delete");
    assert!(store.get_setting("gone").await.expect("get").is_none());
    assert!(matches!(
        store.delete_setting("gone").await,
        Err(StoreError::NotFound)
    ));
}

pub async fn settings_keep_any_json(store: &dyn Store) {
    let value =
        json!({"unicode": "żółw 🐢", "quote": "'; DROP TABLE settings; --", "n": [1.5, null]});
    store.put_setting("odd'key", &value).await.expect("put");
    let got = store
        .get_setting("odd'key")
        .await
        .expect("get")
        .expect("present");
    assert_eq!(got.value, value);
}
