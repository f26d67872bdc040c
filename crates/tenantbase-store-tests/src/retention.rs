//! Conformance tests of deleting what ended sign-ins leave behind.

use std::iter::repeat_n;

use chrono::{DateTime, Duration, Utc};
use tenantbase_domain::id::{InvitationId, SessionId, TrustedDeviceId, UserId};
use tenantbase_domain::model::{Invitation, Rotation};
use tenantbase_store::identity::mfa::{EmailCodePurpose, NewMfaChallenge, NewTrustedDevice};
use tenantbase_store::identity::oidc::{OidcFlow, PendingLink};
use tenantbase_store::identity::passkeys::{CeremonyPurpose, NewCeremony};
use tenantbase_store::identity::retention::PrunedAuth;
use tenantbase_store::identity::sessions::NewSession;
use tenantbase_store::{Store, StoreError};

use crate::files::new_org;
use crate::identity::{create_session, create_user};

pub async fn ended_sessions_tokens_and_devices_are_pruned_in_batches(store: &dyn Store) {
    let user = create_user(store, Some("prune@example.com"))
        .await
        .expect("user")
        .id;
    let now = Utc::now();
    let ended = now - Duration::days(60);
    let before_ended = ended - Duration::days(1);
    let live = create_session(store, user, "live").await;
    let mut unit = store.begin().await.expect("begin");
    let mut old = Vec::new();
    for n in 0..3 {
        let session = unit
            .create_session(
                NewSession {
                    id: SessionId::new(),
                    user_id: user,
                    device_id: None,
                    device_label: None,
                    user_agent: Some("old-agent".to_owned()),
                    ip: Some("192.0.2.1".to_owned()),
                    amr: vec!["pwd".to_owned()],
                    identity_id: None,
                    passkey_id: None,
                    idle_expires_at: ended,
                    absolute_expires_at: ended,
                },
                &format!("old-{n}"),
            )
            .await
            .expect("old session");
        old.push(session.id);
    }
    unit.add_user_token(user, "login", "spent", ended)
        .await
        .expect("old token");
    unit.add_user_token(user, "login", "usable", now + Duration::hours(1))
        .await
        .expect("token");
    // Two devices, the expired one trusted last (a trust drops the expired ones before it).
    for (device, expires_at) in [("device", now + Duration::days(9)), ("old-device", ended)] {
        unit.insert_trusted_device(
            NewTrustedDevice {
                id: TrustedDeviceId::new(),
                user_id: user,
                token_hash: device.to_owned(),
                device_id: device.to_owned(),
                device_label: None,
                expires_at,
            },
            20,
        )
        .await
        .expect("device");
    }
    unit.commit().await.expect("commit");

    let cut = now - Duration::days(30);
    let pruned = |sessions, user_tokens, trusted_devices| PrunedAuth {
        sessions,
        user_tokens,
        trusted_devices,
        ..PrunedAuth::default()
    };
    // Two of each kind at most per call, until nothing is left to delete.
    let mut calls = Vec::new();
    for _ in 0..3 {
        calls.push(store.prune_ended_auth(cut, 2).await.expect("prune"));
    }
    assert_eq!(
        calls,
        [pruned(2, 1, 1), pruned(1, 0, 0), pruned(0, 0, 0)],
        "per call"
    );

    for id in old {
        assert!(matches!(
            store.session_by_id(id).await,
            Err(StoreError::NotFound)
        ));
    }
    // The ended sessions' refresh tokens went with them.
    let mut unit = store.begin().await.expect("begin");
    let rotation = unit
        .rotate_refresh_token("old-0", "next", std::time::Duration::ZERO, now)
        .await
        .expect("rotate");
    assert_eq!(rotation, Rotation::Unknown);
    drop(unit);
    // What has not ended is kept; asked as of before they ended, the pruned are gone.
    assert_eq!(store.session_by_id(live).await.expect("live").id, live);
    let owner = |hash| store.user_token_owner(hash, "login", before_ended);
    assert_eq!(owner("usable").await.expect("usable"), Some(user));
    assert_eq!(owner("spent").await.expect("spent"), None);
    let devices = store
        .trusted_devices(user, before_ended)
        .await
        .expect("devices");
    assert_eq!(devices.len(), 1, "{devices:?}");
}

pub async fn ended_challenges_codes_and_flows_are_pruned_in_batches(store: &dyn Store) {
    use EmailCodePurpose::{SignIn, StepUp};
    let now = Utc::now();
    let ended = now - Duration::days(60);
    let users = insert_rows_between_steps(store, now, ended).await;

    // Two of each kind at most per call, until nothing is left to delete.
    let cut = now - Duration::days(30);
    let mut calls = Vec::new();
    for _ in 0..3 {
        calls.push(store.prune_ended_auth(cut, 2).await.expect("prune"));
    }
    let first = PrunedAuth {
        mfa_challenges: 2,
        mfa_email_codes: 2,
        mfa_step_up_email_codes: 1,
        webauthn_ceremonies: 1,
        oidc_flows: 2,
        oidc_link_codes: 1,
        ..PrunedAuth::default()
    };
    let second = PrunedAuth {
        mfa_challenges: 1,
        oidc_flows: 1,
        ..PrunedAuth::default()
    };
    assert_eq!(calls, [first, second, PrunedAuth::default()], "per call");

    // Asked as of before any of them expired: the live and recent ones are there still.
    let asked = ended - Duration::days(1);
    let kept = |old| -> Vec<bool> {
        [true, true]
            .into_iter()
            .chain(repeat_n(false, old))
            .collect()
    };
    let challenges = found(5, async |n| {
        let hash = format!("challenge-{n}");
        let challenge = store.mfa_challenge(&hash, asked).await;
        challenge.expect("challenge").is_some()
    });
    assert_eq!(challenges.await, kept(3), "challenges");
    let mut unit = store.begin().await.expect("begin");
    for (purpose, old) in [(SignIn, 2), (StepUp, 1)] {
        let codes = found(2 + old, async |n| {
            let code = unit.email_code(users[n], purpose, asked).await;
            code.expect("code").is_some()
        });
        assert_eq!(codes.await, kept(old), "{purpose:?} codes");
    }
    let ceremonies = found(2, async |n| {
        let hash = format!("ceremony-{n}");
        let sign_in = CeremonyPurpose::SignIn;
        let taken = unit
            .take_ceremony(&hash, sign_in, None, None, None, asked)
            .await;
        taken.expect("ceremony").is_some()
    });
    assert_eq!(ceremonies.await, [true, false], "ceremonies");
    let flows = found(5, async |n| {
        let hash = format!("flow-{n}");
        let flow = unit.take_oidc_flow(&hash, asked).await;
        flow.expect("flow").is_some()
    });
    assert_eq!(flows.await, kept(3), "flows");
    let links = found(3, async |n| {
        let hash = format!("link-{n}");
        let link = unit.take_link_code(&hash, asked).await;
        link.expect("link code").is_some()
    });
    assert_eq!(links.await, kept(1), "link codes");
}

/// Starting an OpenID flow or a link deletes expired rows of its kind a bounded batch at a
/// time (100), however many there are; `auth.cleanup` takes the rest.
pub async fn starting_a_flow_deletes_a_bounded_batch_of_expired_ones(store: &dyn Store) {
    let now = Utc::now();
    let ended = now - Duration::hours(1);
    let user = create_user(store, Some("backlog@example.com"))
        .await
        .expect("user")
        .id;
    let session = create_session(store, user, "linking").await;
    // A backlog of 150 each, started while none of them had expired yet.
    let started = ended - Duration::minutes(10);
    let mut unit = store.begin().await.expect("begin");
    for n in 0..150 {
        unit.insert_oidc_flow(&oidc_flow(n, started, ended))
            .await
            .expect("old flow");
        unit.insert_link_code(&link_code(n, (user, session), started, ended))
            .await
            .expect("old link");
    }
    unit.commit().await.expect("commit");
    let live = now + Duration::minutes(10);
    let mut unit = store.begin().await.expect("begin");
    unit.insert_oidc_flow(&oidc_flow(150, now, live))
        .await
        .expect("new flow");
    unit.insert_link_code(&link_code(150, (user, session), now, live))
        .await
        .expect("new link");
    unit.commit().await.expect("commit");
    let left = store.prune_ended_auth(now, 1_000).await.expect("prune");
    assert_eq!(
        (left.oidc_flows, left.oidc_link_codes),
        (50, 50),
        "expired rows left after one start of each: {left:?}"
    );
    let mut unit = store.begin().await.expect("begin");
    let flow = unit.take_oidc_flow("flow-150", now).await.expect("take");
    assert!(flow.is_some(), "the new flow");
    let link = unit.take_link_code("link-150", now).await.expect("take");
    assert!(link.is_some(), "the new link");
}

/// Which of the rows numbered `0..count` `exists` finds.
async fn found(count: usize, mut exists: impl AsyncFnMut(usize) -> bool) -> Vec<bool> {
    let mut found = Vec::new();
    for n in 0..count {
        found.push(exists(n).await);
    }
    found
}

/// Of each kind waiting between the steps of a sign-in, one live row, one that expired
/// within the kept window, then some that expired at `ended`, before it: 3 second-step
/// challenges, 2 sign-in and 1 step-up emailed codes, 1 ceremony, 3 OpenID flows and 1
/// link code. Returns the 5 users they belong to, in the rows' order.
async fn insert_rows_between_steps(
    store: &dyn Store,
    now: DateTime<Utc>,
    ended: DateTime<Utc>,
) -> Vec<UserId> {
    use EmailCodePurpose::{SignIn, StepUp};
    let (live, recent) = (now + Duration::minutes(10), now - Duration::days(10));
    // Newest first, as inserting one deletes the ones that had expired when it started
    // (all of the user's second steps, all ceremonies).
    let expiries = |old| [live, recent].into_iter().chain(repeat_n(ended, old));
    let mut users = Vec::new();
    for n in 0..5 {
        let email = format!("step-{n}@example.com");
        users.push(create_user(store, Some(&email)).await.expect("user").id);
    }
    let session = create_session(store, users[0], "linking").await;
    let mut unit = store.begin().await.expect("begin");
    for (n, (user, expires_at)) in users.iter().zip(expiries(3)).enumerate() {
        unit.insert_mfa_challenge(NewMfaChallenge {
            token_hash: format!("challenge-{n}"),
            user_id: *user,
            device_id: None,
            first_factor: "pwd".to_owned(),
            identity_id: None,
            expires_at,
        })
        .await
        .expect("challenge");
    }
    for (purpose, old) in [(SignIn, 2), (StepUp, 1)] {
        for (user, expires_at) in users.iter().zip(expiries(old)) {
            unit.put_email_code(*user, purpose, "code", expires_at)
                .await
                .expect("code");
        }
    }
    for (n, expires_at) in [live, ended].into_iter().enumerate() {
        unit.insert_ceremony(NewCeremony {
            challenge_hash: format!("ceremony-{n}"),
            user_id: None,
            session_id: None,
            mfa_challenge_hash: None,
            purpose: CeremonyPurpose::SignIn,
            state: "{}".to_owned(),
            expires_at,
        })
        .await
        .expect("ceremony");
    }
    for (n, expires_at) in expiries(3).enumerate() {
        let started = expires_at - Duration::minutes(10);
        unit.insert_oidc_flow(&oidc_flow(n, started, expires_at))
            .await
            .expect("flow");
    }
    for (n, expires_at) in expiries(1).enumerate() {
        let started = expires_at - Duration::minutes(5);
        unit.insert_link_code(&link_code(n, (users[0], session), started, expires_at))
            .await
            .expect("link code");
    }
    unit.commit().await.expect("commit");
    users
}

/// The OpenID flow `flow-{n}`, started at `created_at`.
fn oidc_flow(n: usize, created_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> OidcFlow {
    OidcFlow {
        state_hash: format!("flow-{n}"),
        provider: "idp".to_owned(),
        user_id: None,
        session_id: None,
        redirect_uri: "https://app.example/back".to_owned(),
        app_challenge: None,
        created_at,
        expires_at,
    }
}

/// The link code `link-{n}` for the signed-in `(user, session)`, made at `created_at`.
fn link_code(
    n: usize,
    (user_id, session_id): (UserId, SessionId),
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
) -> PendingLink {
    PendingLink {
        code_hash: format!("link-{n}"),
        user_id,
        session_id,
        provider: "idp".to_owned(),
        issuer: "https://idp.example".to_owned(),
        subject: format!("subject-{n}"),
        email: None,
        created_at,
        expires_at,
    }
}

pub async fn expired_invitations_of_every_org_are_pruned_in_batches(store: &dyn Store) {
    let owner = create_user(store, Some("inviter@example.com"))
        .await
        .expect("user")
        .id;
    let now = Utc::now();
    let long_ago = now - Duration::days(60);
    // Token hashes by what becomes of them: `old-*` expired before the cut (one of them
    // accepted, one revoked), `recent` after it, `live` not yet.
    let orgs = [
        (
            "a",
            vec![
                ("old-a1", long_ago),
                ("old-a2", long_ago),
                ("recent", now - Duration::days(10)),
                ("live-a", now + Duration::days(7)),
            ],
        ),
        (
            "b",
            vec![("old-b", long_ago), ("live-b", now + Duration::days(7))],
        ),
    ];
    let mut scopes = Vec::new();
    for (slug, invitations) in &orgs {
        let scope = new_org(store, slug, owner).await;
        let mut unit = store.begin_org(&scope).await.expect("unit");
        for (hash, expires_at) in invitations {
            let invitation = Invitation {
                id: InvitationId::new(),
                email: format!("{hash}@example.com"),
                role_ids: Vec::new(),
                any_email: false,
                invited_by: owner,
                created_at: *expires_at - Duration::days(7),
                expires_at: *expires_at,
                accepted_at: (*hash == "old-a1").then_some(*expires_at - Duration::days(6)),
                revoked_at: (*hash == "old-b").then_some(*expires_at - Duration::days(6)),
            };
            unit.insert_invitation(&invitation, hash)
                .await
                .expect("invitation");
        }
        unit.commit().await.expect("commit");
        scopes.push(scope);
    }

    // Two at most per call, across both orgs, until nothing is left to delete.
    let cut = now - Duration::days(30);
    let mut deleted = Vec::new();
    for _ in 0..3 {
        let pruned = store.prune_ended_auth(cut, 2).await.expect("prune");
        deleted.push(pruned.invitations);
    }
    assert_eq!(deleted, [2, 1, 0], "per call");

    for (scope, (_, invitations)) in scopes.iter().zip(&orgs) {
        let mut unit = store.read_org(scope).await.expect("read");
        for (hash, _) in invitations {
            let found = unit.invitation_by_token(hash).await.expect("look");
            assert_eq!(found.is_some(), !hash.starts_with("old"), "{hash}");
        }
    }
}
