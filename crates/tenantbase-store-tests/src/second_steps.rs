//! Conformance tests of what waits between two requests of a stronger sign-in: WebAuthn
//! ceremonies and emailed codes, and the read the second request starts from.

use chrono::{Duration, Utc};
use tenantbase_domain::id::UserId;
use tenantbase_domain::model::MfaKind;
use tenantbase_store::identity::mfa::EmailCodePurpose;
use tenantbase_store::identity::passkeys::{CeremonyPurpose, NewCeremony};
use tenantbase_store::{Store, StoreError};

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

pub async fn emailed_codes_are_kept_one_per_purpose(store: &dyn Store) {
    use EmailCodePurpose::{SignIn, StepUp};
    let user = create_user(store, Some("e@example.com"))
        .await
        .expect("user")
        .id;
    let now = Utc::now();
    let later = now + Duration::minutes(10);
    let mut unit = store.begin().await.expect("begin");
    unit.put_email_code(user, SignIn, "sign-in-1", later)
        .await
        .expect("put");
    unit.put_email_code(user, StepUp, "step-up-1", later)
        .await
        .expect("put");
    unit.put_email_code(user, SignIn, "sign-in-2", later)
        .await
        .expect("replace");
    for (purpose, expected) in [(SignIn, "sign-in-2"), (StepUp, "step-up-1")] {
        let outstanding = unit.email_code(user, purpose, now).await.expect("read");
        assert_eq!(outstanding.as_deref(), Some(expected), "{purpose:?}");
    }

    assert!(
        !unit
            .use_email_code(user, SignIn, "sign-in-1")
            .await
            .expect("use"),
        "replaced"
    );
    assert!(
        !unit
            .use_email_code(user, StepUp, "sign-in-2")
            .await
            .expect("use"),
        "other purpose"
    );
    assert!(
        unit.use_email_code(user, SignIn, "sign-in-2")
            .await
            .expect("use")
    );
    assert!(
        !unit
            .use_email_code(user, SignIn, "sign-in-2")
            .await
            .expect("use"),
        "used once"
    );
    assert_eq!(
        unit.email_code(user, SignIn, now).await.expect("read"),
        None
    );
    assert_eq!(
        unit.email_code(user, StepUp, now)
            .await
            .expect("read")
            .as_deref(),
        Some("step-up-1"),
        "the step-up's code outlives the sign-in's"
    );
    // Expired codes are not outstanding.
    let after_expiry = later + Duration::seconds(1);
    assert_eq!(
        unit.email_code(user, StepUp, after_expiry)
            .await
            .expect("read"),
        None
    );
    unit.commit().await.expect("commit");
}

pub async fn a_user_is_read_with_their_factors(store: &dyn Store) {
    let user = create_user(store, Some("f@example.com"))
        .await
        .expect("user");
    let mut unit = store.begin().await.expect("begin");
    let (read, factors) = unit.user_with_factors(user.id).await.expect("read");
    assert_eq!((read, factors), (user.clone(), Vec::new()), "no factor yet");

    let now = Utc::now();
    assert!(
        unit.put_pending_totp(user.id, b"sealed", now)
            .await
            .expect("totp")
    );
    assert!(unit.confirm_totp(user.id, 42, now).await.expect("confirm"));
    assert!(
        unit.add_mfa_factor(user.id, MfaKind::Email, now)
            .await
            .expect("email")
    );
    let (read, factors) = unit.user_with_factors(user.id).await.expect("read");
    assert_eq!(read, user);
    let alone = unit.mfa_factors_in_unit(user.id).await.expect("factors");
    assert_eq!(factors.len(), 2, "{factors:?}");
    assert_eq!(
        factors, alone,
        "the same factors as read alone, in the same order"
    );
    let totp = factors
        .iter()
        .find(|f| f.kind == MfaKind::Totp)
        .expect("totp");
    assert_eq!(totp.sealed_secret.as_deref(), Some(&b"sealed"[..]));
    assert_eq!(totp.last_used_step, Some(42));
    assert!(totp.confirmed_at.is_some(), "{totp:?}");

    let unknown = unit.user_with_factors(UserId::new()).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    unit.commit().await.expect("commit");
}
