//! Conformance tests of what waits between two requests of a stronger sign-in: WebAuthn
//! ceremonies.

use chrono::{Duration, Utc};
use tenantbase_store::Store;
use tenantbase_store::identity::passkeys::{CeremonyPurpose, NewCeremony};

use crate::identity::{create_session, create_user};

pub async fn ceremonies_are_taken_once_by_their_purpose_user_and_session(store: &dyn Store) {
    let user = create_user(store, Some("c@example.com"))
        .await
        .expect("user")
        .id;
    let session = create_session(store, user, "refresh-1").await;
    let other_session = create_session(store, user, "refresh-2").await;
    let now = Utc::now();
    let mut unit = store.begin().await.expect("begin");
    for (hash, purpose, session) in [
        ("step-up", CeremonyPurpose::StepUp, Some(session)),
        ("stolen", CeremonyPurpose::StepUp, Some(session)),
        ("second", CeremonyPurpose::SecondFactor, None),
    ] {
        unit.insert_ceremony(NewCeremony {
            challenge_hash: hash.to_owned(),
            user_id: Some(user),
            session_id: session,
            purpose,
            state: format!("state of {hash}"),
            expires_at: now + Duration::minutes(5),
        })
        .await
        .expect("insert");
    }

    let step_up = CeremonyPurpose::StepUp;
    let taken = unit
        .take_ceremony("step-up", step_up, Some(user), Some(session), now)
        .await
        .expect("take");
    assert_eq!(taken.as_deref(), Some("state of step-up"));
    let again = unit
        .take_ceremony("step-up", step_up, Some(user), Some(session), now)
        .await
        .expect("take again");
    assert_eq!(again, None, "taken once");
    // Another session of the same user takes nothing, and spends the ceremony.
    for (session, what) in [(other_session, "another session"), (session, "spent")] {
        let taken = unit
            .take_ceremony("stolen", step_up, Some(user), Some(session), now)
            .await
            .expect("take");
        assert_eq!(taken, None, "{what}");
    }
    let second = CeremonyPurpose::SecondFactor;
    let taken = unit
        .take_ceremony("second", second, Some(user), None, now)
        .await
        .expect("take");
    assert_eq!(taken.as_deref(), Some("state of second"));
    unit.commit().await.expect("commit");
}
