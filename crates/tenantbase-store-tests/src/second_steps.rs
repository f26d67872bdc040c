//! Conformance tests of what waits between two requests of a stronger sign-in: WebAuthn
//! ceremonies and emailed codes, and the read the second request starts from; and of the
//! trusted devices that skip it.

use chrono::{Duration, Utc};
use tenantbase_domain::id::{IdentityId, PasskeyId, TrustedDeviceId, UserId};
use tenantbase_domain::model::{LinkedIdentity, MfaKind, PasskeyInfo};
use tenantbase_store::identity::mfa::{EmailCodePurpose, NewMfaChallenge, NewTrustedDevice};
use tenantbase_store::identity::passkeys::{CeremonyPurpose, NewCeremony, NewPasskey};
use tenantbase_store::{Store, UnitOfWork};

use crate::identity::{create_session, create_user};

pub async fn ceremonies_are_taken_once_by_their_purpose_user_session_and_challenge(
    store: &dyn Store,
) {
    let user = create_user(store, Some("c@example.com"))
        .await
        .expect("user")
        .id;
    let session = create_session(store, user, "refresh-1").await;
    let other_session = create_session(store, user, "refresh-2").await;
    let now = Utc::now();
    let mut unit = store.begin().await.expect("begin");
    for (hash, purpose, session, mfa_challenge) in [
        ("step-up", CeremonyPurpose::StepUp, Some(session), None),
        ("stolen", CeremonyPurpose::StepUp, Some(session), None),
        ("second", CeremonyPurpose::SecondFactor, None, Some("mfa-a")),
        (
            "crossed",
            CeremonyPurpose::SecondFactor,
            None,
            Some("mfa-a"),
        ),
    ] {
        unit.insert_ceremony(NewCeremony {
            challenge_hash: hash.to_owned(),
            user_id: Some(user),
            session_id: session,
            mfa_challenge_hash: mfa_challenge.map(str::to_owned),
            purpose,
            state: format!("state of {hash}"),
            expires_at: now + Duration::minutes(5),
        })
        .await
        .expect("insert");
    }

    let step_up = CeremonyPurpose::StepUp;
    let taken = unit
        .take_ceremony("step-up", step_up, Some(user), Some(session), None, now)
        .await
        .expect("take");
    assert_eq!(taken.as_deref(), Some("state of step-up"));
    let again = unit
        .take_ceremony("step-up", step_up, Some(user), Some(session), None, now)
        .await
        .expect("take again");
    assert_eq!(again, None, "taken once");
    // Another session of the same user takes nothing, and spends the ceremony.
    for (session, what) in [(other_session, "another session"), (session, "spent")] {
        let taken = unit
            .take_ceremony("stolen", step_up, Some(user), Some(session), None, now)
            .await
            .expect("take");
        assert_eq!(taken, None, "{what}");
    }
    let second = CeremonyPurpose::SecondFactor;
    let taken = unit
        .take_ceremony("second", second, Some(user), None, Some("mfa-a"), now)
        .await
        .expect("take");
    assert_eq!(taken.as_deref(), Some("state of second"));
    // Another sign-in challenge of the same user takes nothing, and spends the ceremony.
    for (mfa_challenge, what) in [("mfa-b", "another challenge"), ("mfa-a", "spent")] {
        let taken = unit
            .take_ceremony(
                "crossed",
                second,
                Some(user),
                None,
                Some(mfa_challenge),
                now,
            )
            .await
            .expect("take");
        assert_eq!(taken, None, "{what}");
    }
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

/// The second step's first call uses its challenge up and reads the user with their
/// factors: once, and only while the challenge is unexpired.
pub async fn a_challenge_is_used_with_its_user_and_factors(store: &dyn Store) {
    let user = create_user(store, Some("f@example.com"))
        .await
        .expect("user");
    let now = Utc::now();
    let mut unit = store.begin().await.expect("begin");
    for (hash, expires_at) in [
        ("first", now + Duration::minutes(5)),
        ("second", now + Duration::minutes(5)),
        ("expired", now - Duration::seconds(1)),
    ] {
        unit.insert_mfa_challenge(NewMfaChallenge {
            token_hash: hash.to_owned(),
            user_id: user.id,
            device_id: Some("dev-1".to_owned()),
            first_factor: "pwd".to_owned(),
            identity_id: None,
            expires_at,
        })
        .await
        .expect("challenge");
    }
    let read = unit
        .consume_challenge_with_user("first", now)
        .await
        .expect("read")
        .expect("an unused challenge");
    assert_eq!(
        (&read.user, read.factors.len()),
        (&user, 0),
        "no factor yet"
    );
    assert_eq!(read.challenge.user_id, user.id);
    assert_eq!(read.challenge.device_id.as_deref(), Some("dev-1"));
    assert_eq!(read.challenge.first_factor, "pwd");
    let again = unit.consume_challenge_with_user("first", now).await;
    assert!(matches!(again, Ok(None)), "used once: {again:?}");
    let expired = unit.consume_challenge_with_user("expired", now).await;
    assert!(matches!(expired, Ok(None)), "{expired:?}");
    let unknown = unit.consume_challenge_with_user("unknown", now).await;
    assert!(matches!(unknown, Ok(None)), "{unknown:?}");

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
    let read = unit
        .consume_challenge_with_user("second", now)
        .await
        .expect("read")
        .expect("an unused challenge");
    assert_eq!(read.user, user);
    let alone = unit.mfa_factors_in_unit(user.id).await.expect("factors");
    assert_eq!(read.factors.len(), 2, "{:?}", read.factors);
    assert_eq!(
        read.factors, alone,
        "the same factors as read alone, in the same order"
    );
    let totp = read
        .factors
        .iter()
        .find(|f| f.kind == MfaKind::Totp)
        .expect("totp");
    assert_eq!(totp.sealed_secret.as_deref(), Some(&b"sealed"[..]));
    assert_eq!(totp.last_used_step, Some(42));
    assert!(totp.confirmed_at.is_some(), "{totp:?}");
    unit.commit().await.expect("commit");
}

/// A reset that proves an unverified email takes every other way in off the account: a
/// pending authenticator app and an active second factor, backup codes, a passkey and a
/// linked identity go, and only that user's.
pub async fn sign_in_methods_but_the_password_are_removed_for_one_user(store: &dyn Store) {
    let (user, other) = (
        create_user(store, Some("m@example.com"))
            .await
            .expect("user")
            .id,
        create_user(store, Some("o@example.com"))
            .await
            .expect("user")
            .id,
    );
    let now = Utc::now();
    let mut unit = store.begin().await.expect("begin");
    for (n, id) in [user, other].into_iter().enumerate() {
        assert!(
            unit.put_pending_totp(id, b"sealed", now)
                .await
                .expect("totp")
        );
        assert!(
            unit.add_mfa_factor(id, MfaKind::Email, now)
                .await
                .expect("email")
        );
        let codes = ["code-a".to_owned(), "code-b".to_owned()];
        unit.replace_backup_codes(id, &codes, now)
            .await
            .expect("codes");
        let info = PasskeyInfo {
            id: PasskeyId::new(),
            user_id: id,
            name: "key".to_owned(),
            backup_eligible: false,
            backed_up: false,
            created_at: now,
            last_used_at: None,
        };
        let credential_id = format!("credential-{n}");
        let passkey = NewPasskey {
            info,
            credential_id,
            credential: "{}".to_owned(),
            sign_count: 0,
        };
        unit.insert_passkey(passkey).await.expect("passkey");
        let identity = LinkedIdentity {
            id: IdentityId::new(),
            user_id: id,
            provider: "idp".to_owned(),
            issuer: "https://idp.example".to_owned(),
            subject: format!("subject-{n}"),
            email: None,
            created_at: now,
            last_used_at: None,
        };
        unit.insert_identity(&identity).await.expect("identity");
    }
    let removed = unit
        .remove_sign_in_methods_but_password(user)
        .await
        .expect("remove");
    assert_eq!(removed, 4, "two factors, a passkey and an identity");
    assert_eq!(methods_left(unit.as_mut(), user).await, (0, 0, 0, 0));
    let others = methods_left(unit.as_mut(), other).await;
    assert_eq!(others, (2, 2, 1, 1), "another user's stay");
    unit.commit().await.expect("commit");
}

/// The user's factors, unused backup codes, passkeys and linked identities, counted.
async fn methods_left(unit: &mut dyn UnitOfWork, id: UserId) -> (usize, usize, u64, usize) {
    (
        unit.mfa_factors_in_unit(id).await.expect("factors").len(),
        unit.unused_backup_codes(id).await.expect("codes").len(),
        unit.passkey_count(id).await.expect("passkeys"),
        unit.user_identities(id).await.expect("identities").len(),
    )
}

pub async fn trusted_devices_are_kept_to_the_newest_of_a_bounded_number(store: &dyn Store) {
    let user = create_user(store, Some("t@example.com"))
        .await
        .expect("user")
        .id;
    let other = create_user(store, Some("u@example.com"))
        .await
        .expect("user")
        .id;
    let now = Utc::now();
    let trust = |user: UserId, device: &str, expires_at| NewTrustedDevice {
        id: TrustedDeviceId::new(),
        user_id: user,
        token_hash: format!("{user}-{device}"),
        device_id: device.to_owned(),
        device_label: None,
        expires_at,
    };
    let mut unit = store.begin().await.expect("begin");
    // An expired trust, one of another account, then five devices (one trusted twice).
    unit.insert_trusted_device(trust(user, "gone", now - Duration::days(1)), 3)
        .await
        .expect("expired");
    unit.insert_trusted_device(trust(other, "theirs", now + Duration::days(9)), 3)
        .await
        .expect("other's");
    for device in ["d1", "d2", "d3", "d2", "d4"] {
        unit.insert_trusted_device(trust(user, device, now + Duration::days(9)), 3)
            .await
            .expect("trust");
    }
    unit.commit().await.expect("commit");
    let kept: Vec<String> = store
        .trusted_devices(user, now)
        .await
        .expect("list")
        .into_iter()
        .map(|device| device.device_id)
        .collect();
    assert_eq!(kept, ["d4", "d2", "d3"], "the three newest, d2 once");
    let theirs = store.trusted_devices(other, now).await.expect("list");
    assert_eq!(theirs.len(), 1, "another account's trust stays");
    let mut unit = store.begin().await.expect("begin");
    let gone = unit
        .trusted_device_by_token(&format!("{user}-gone"))
        .await
        .expect("read");
    assert!(gone.is_none(), "the expired trust is dropped");
}
