//! Conformance tests of accounts, sessions, refresh-token rotation and signing keys.

use std::time::Duration;

use chrono::Utc;
use futures::future::join_all;
use tenantbase_domain::id::{IdentityId, PasskeyId, SessionId, UserId};
use tenantbase_domain::model::{Rotation, Session, SigningKeyRow, User};
use tenantbase_store::identity::sessions::{NewSession, OpenedBy, SignInContext};
use tenantbase_store::identity::users::NewUser;
use tenantbase_store::{Store, StoreError, UnitOfWork};

const GRACE: Duration = Duration::from_secs(10);

pub(crate) async fn create_user(
    store: &dyn Store,
    email: Option<&str>,
) -> Result<User, StoreError> {
    let mut unit = store.begin().await?;
    let user = unit
        .create_user(NewUser {
            id: UserId::new(),
            email: email.map(str::to_owned),
            display_name: "Test".to_owned(),
            password_hash: email.map(|_| "$argon2id$fake".to_owned()),
            is_guest: email.is_none(),
        })
        .await?;
    unit.commit().await?;
    Ok(user)
}

pub(crate) async fn create_session(
    store: &dyn Store,
    user: UserId,
    refresh_hash: &str,
) -> SessionId {
    create_session_via(store, user, refresh_hash, None).await
}

/// A session of `user` opened by `opened_by`, if given.
async fn create_session_via(
    store: &dyn Store,
    user: UserId,
    refresh_hash: &str,
    opened_by: Option<OpenedBy>,
) -> SessionId {
    let now = Utc::now();
    let mut unit = store.begin().await.expect("begin");
    let session = unit
        .create_session(
            NewSession {
                id: SessionId::new(),
                user_id: user,
                device_id: Some("dev-1".to_owned()),
                device_label: Some("laptop".to_owned()),
                user_agent: Some("test-agent".to_owned()),
                ip: Some("127.0.0.1".to_owned()),
                amr: vec!["pwd".to_owned()],
                identity_id: match opened_by {
                    Some(OpenedBy::Identity(id)) => Some(id),
                    _ => None,
                },
                passkey_id: match opened_by {
                    Some(OpenedBy::Passkey(id)) => Some(id),
                    _ => None,
                },
                idle_expires_at: now + chrono::Duration::days(1),
                absolute_expires_at: now + chrono::Duration::days(30),
            },
            refresh_hash,
        )
        .await
        .expect("session");
    unit.commit().await.expect("commit");
    session.id
}

async fn rotate(store: &dyn Store, old: &str, new: &str, grace: Duration) -> Rotation {
    let mut unit = store.begin().await.expect("begin");
    let rotation = unit
        .rotate_refresh_token(old, new, grace, Utc::now())
        .await
        .expect("rotate");
    unit.commit().await.expect("commit");
    rotation
}

pub async fn emails_are_unique_and_guests_have_none(store: &dyn Store) {
    let user = create_user(store, Some("ada@example.com"))
        .await
        .expect("user");
    let taken = create_user(store, Some("ada@example.com")).await;
    assert!(
        matches!(taken, Err(StoreError::Conflict { .. })),
        "{taken:?}"
    );
    let found = store
        .user_by_email("ada@example.com")
        .await
        .expect("lookup")
        .expect("found");
    assert_eq!(found, user);
    assert!(!found.email_verified);
    assert!(
        store
            .user_by_email("nobody@example.com")
            .await
            .expect("lookup")
            .is_none()
    );
    let guest_a = create_user(store, None).await.expect("guest");
    let guest_b = create_user(store, None).await.expect("second guest");
    assert!(guest_a.is_guest && guest_b.is_guest);
    assert_eq!(store.user_by_id(guest_b.id).await.expect("by id"), guest_b);
}

pub async fn refresh_tokens_rotate_once_and_reuse_is_detected(store: &dyn Store) {
    let user = create_user(store, Some("r@example.com"))
        .await
        .expect("user");
    let session = create_session(store, user.id, "h1").await;
    assert_eq!(
        rotate(store, "h1", "h2", GRACE).await,
        Rotation::Rotated(session)
    );
    assert_eq!(
        rotate(store, "h1", "h3", GRACE).await,
        Rotation::RaceLost(session),
        "within grace"
    );
    assert_eq!(
        rotate(store, "h1", "h3", Duration::ZERO).await,
        Rotation::Reused(session),
        "after grace"
    );
    assert_eq!(rotate(store, "nope", "h4", GRACE).await, Rotation::Unknown);
    assert_eq!(
        rotate(store, "h2", "h5", GRACE).await,
        Rotation::Rotated(session),
        "the successor works"
    );
}

pub async fn concurrent_refreshes_yield_one_successor(store: &dyn Store) {
    let user = create_user(store, Some("c@example.com"))
        .await
        .expect("user");
    let session = create_session(store, user.id, "start").await;
    let attempts = (0..20).map(|i| async move {
        let mut unit = store.begin().await.expect("begin");
        let rotation = unit
            .rotate_refresh_token("start", &format!("next-{i}"), GRACE, Utc::now())
            .await
            .expect("rotate");
        unit.commit().await.expect("commit");
        rotation
    });
    let outcomes = join_all(attempts).await;
    let rotated = outcomes
        .iter()
        .filter(|r| **r == Rotation::Rotated(session))
        .count();
    let lost = outcomes
        .iter()
        .filter(|r| **r == Rotation::RaceLost(session))
        .count();
    assert_eq!((rotated, lost), (1, 19), "{outcomes:?}");
}

/// A sign-in's new session sees the user's other live sessions beyond the limit, oldest
/// last (never itself), whether its device opened an earlier session, ended ones too, and
/// whether the user had signed in before at all.
pub async fn sign_in_context_finds_the_excess_and_known_devices(store: &dyn Store) {
    let user = create_user(store, Some("ctx@example.com"))
        .await
        .expect("user");
    let newcomer = create_user(store, Some("first@example.com"))
        .await
        .expect("user");
    let oldest = create_session(store, user.id, "ctx-a").await;
    let older = create_session(store, user.id, "ctx-b").await;
    let now = Utc::now();
    let mut unit = store.begin().await.expect("begin");
    let ended = open(&mut unit, user.id, "dev-ended", "ctx-c").await;
    unit.revoke_session(ended.id, "logout", now)
        .await
        .expect("revoke");
    let mut opened = Vec::new();
    for (device, refresh, seen) in [
        ("dev-2", "ctx-d", false),
        ("dev-1", "ctx-e", true),
        ("dev-ended", "ctx-f", true),
    ] {
        let (session, context) = sign_in(&mut unit, user.id, device, refresh, 2).await;
        assert_eq!(context.device_seen, seen, "{device}");
        assert!(context.signed_in_before, "{device}");
        // The newest other session stays beside the new one; the rest are the excess.
        let mut others: Vec<SessionId> = opened.iter().rev().copied().collect();
        others.extend([older, oldest]);
        assert_eq!(context.excess, others[1..], "{device}");
        opened.push(session.id);
    }
    let (alone, context) = sign_in(&mut unit, user.id, "dev-3", "ctx-g", 0).await;
    assert!(
        !context.excess.contains(&alone.id),
        "a limit of 0 still keeps the session being opened"
    );
    let (_, context) = sign_in(&mut unit, newcomer.id, "dev-1", "ctx-h", 2).await;
    assert!(!context.signed_in_before && !context.device_seen);
    assert!(context.excess.is_empty());
    unit.commit().await.expect("commit");
}

/// Opens a session of `user` from `device` in `unit`.
async fn open(
    unit: &mut Box<dyn UnitOfWork>,
    user: UserId,
    device: &str,
    refresh_hash: &str,
) -> Session {
    unit.create_session(session_from(user, device), refresh_hash)
        .await
        .expect("session")
}

/// Signs `user` in from `device` in `unit`, keeping `keep` sessions: the session and
/// what the sign-in read with it.
async fn sign_in(
    unit: &mut Box<dyn UnitOfWork>,
    user: UserId,
    device: &str,
    refresh_hash: &str,
    keep: usize,
) -> (Session, SignInContext) {
    let new = session_from(user, device);
    let id = new.id;
    let (session, context) = unit
        .create_sign_in_session(new, refresh_hash, keep, Utc::now())
        .await
        .expect("sign-in session");
    assert_eq!(session.id, id);
    assert_eq!(
        unit.session(id).await.expect("stored").device_id.as_deref(),
        Some(device),
        "the session is stored with the context read"
    );
    (session, context)
}

fn session_from(user: UserId, device: &str) -> NewSession {
    let now = Utc::now();
    NewSession {
        id: SessionId::new(),
        user_id: user,
        device_id: Some(device.to_owned()),
        device_label: None,
        user_agent: None,
        ip: None,
        amr: vec!["pwd".to_owned()],
        identity_id: None,
        passkey_id: None,
        idle_expires_at: now + chrono::Duration::days(1),
        absolute_expires_at: now + chrono::Duration::days(30),
    }
}

pub async fn sessions_are_listed_and_revoked(store: &dyn Store) {
    let user = create_user(store, Some("s@example.com"))
        .await
        .expect("user");
    let first = create_session(store, user.id, "a").await;
    let second = create_session(store, user.id, "b").await;
    let third = create_session(store, user.id, "c").await;
    let now = Utc::now();
    let live = store.live_sessions(user.id, now).await.expect("list");
    assert_eq!(
        live.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![third, second, first]
    );
    assert_eq!(live[0].device_label.as_deref(), Some("laptop"));
    assert_eq!(live[0].amr, vec!["pwd".to_owned()]);

    let mut unit = store.begin().await.expect("begin");
    assert!(
        unit.revoke_session(first, "logout", now)
            .await
            .expect("revoke")
    );
    assert!(
        !unit
            .revoke_session(first, "logout", now)
            .await
            .expect("again")
    );
    assert_eq!(
        unit.revoke_user_sessions(user.id, Some(third), "revoke-all", now)
            .await
            .expect("all"),
        1
    );
    unit.commit().await.expect("commit");
    let live = store.live_sessions(user.id, now).await.expect("list");
    assert_eq!(live.iter().map(|s| s.id).collect::<Vec<_>>(), vec![third]);
    let revoked = store.session_by_id(first).await.expect("session");
    assert!(!revoked.is_live(now));
    assert!(matches!(
        store.session_by_id(SessionId::new()).await,
        Err(StoreError::NotFound)
    ));
}

pub async fn sessions_opened_by_an_identity_or_a_passkey_are_revoked_with_it(store: &dyn Store) {
    let user = create_user(store, Some("i@example.com"))
        .await
        .expect("user");
    let unlinked_id = IdentityId::new();
    let unlinked = OpenedBy::Identity(unlinked_id);
    let removed = OpenedBy::Passkey(PasskeyId::new());
    let mut through = vec![
        create_session_via(store, user.id, "a", Some(unlinked)).await,
        create_session_via(store, user.id, "b", Some(unlinked)).await,
    ];
    through.sort();
    let other_identity = create_session_via(
        store,
        user.id,
        "c",
        Some(OpenedBy::Identity(IdentityId::new())),
    )
    .await;
    let passkey = create_session_via(store, user.id, "e", Some(removed)).await;
    let password = create_session(store, user.id, "d").await;
    assert_eq!(
        store
            .session_by_id(through[0])
            .await
            .expect("session")
            .identity_id,
        Some(unlinked_id)
    );

    let now = Utc::now();
    let mut unit = store.begin().await.expect("begin");
    let mut revoked = unit
        .revoke_sessions_opened_by(user.id, unlinked, "unlinked", now)
        .await
        .expect("revoke");
    revoked.sort();
    assert_eq!(revoked, through);
    let again = unit
        .revoke_sessions_opened_by(user.id, unlinked, "unlinked", now)
        .await
        .expect("again");
    assert!(again.is_empty(), "{again:?}");
    let revoked = unit
        .revoke_sessions_opened_by(user.id, removed, "removed", now)
        .await
        .expect("revoke");
    assert_eq!(revoked, vec![passkey]);
    unit.commit().await.expect("commit");
    let mut live: Vec<SessionId> = store
        .live_sessions(user.id, now)
        .await
        .expect("list")
        .iter()
        .map(|s| s.id)
        .collect();
    live.sort();
    let mut kept_live = vec![other_identity, password];
    kept_live.sort();
    assert_eq!(live, kept_live);
}

pub async fn signing_keys_are_kept_and_retired(store: &dyn Store) {
    let now = Utc::now();
    let mut unit = store.begin().await.expect("begin");
    for kid in ["k1", "k2"] {
        unit.insert_signing_key(SigningKeyRow {
            kid: kid.to_owned(),
            public_key: vec![1; 32],
            encrypted_private_key: vec![2; 72],
            created_at: now,
            retired_at: None,
        })
        .await
        .expect("insert");
    }
    unit.retire_signing_key("k1", now).await.expect("retire");
    unit.commit().await.expect("commit");
    let keys = store.signing_keys().await.expect("keys");
    assert_eq!(keys.len(), 2);
    let k1 = keys.iter().find(|k| k.kid == "k1").expect("k1");
    assert!(k1.retired_at.is_some());
    assert_eq!(k1.encrypted_private_key, vec![2; 72]);
    assert!(
        keys.iter()
            .find(|k| k.kid == "k2")
            .expect("k2")
            .retired_at
            .is_none()
    );
}

pub async fn single_use_tokens_expire_are_replaced_and_work_once(store: &dyn Store) {
    let user = create_user(store, Some("t@example.com"))
        .await
        .expect("user");
    let now = Utc::now();
    let later = now + chrono::Duration::minutes(30);
    let mut unit = store.begin().await.expect("begin");
    unit.issue_user_token(user.id, "reset", "old", later)
        .await
        .expect("issue");
    unit.issue_user_token(user.id, "reset", "new", later)
        .await
        .expect("issue newer");
    unit.issue_user_token(
        user.id,
        "verify",
        "other",
        now - chrono::Duration::seconds(1),
    )
    .await
    .expect("issue expired");
    unit.commit().await.expect("commit");

    assert_eq!(
        store
            .user_token_owner("new", "reset", now)
            .await
            .expect("owner"),
        Some(user.id)
    );
    assert_eq!(
        store
            .user_token_owner("old", "reset", now)
            .await
            .expect("owner"),
        None,
        "replaced"
    );
    assert_eq!(
        store
            .user_token_owner("new", "verify", now)
            .await
            .expect("owner"),
        None,
        "other purpose"
    );
    assert_eq!(
        store
            .user_token_owner("other", "verify", now)
            .await
            .expect("owner"),
        None,
        "expired"
    );

    let mut unit = store.begin().await.expect("begin");
    assert_eq!(
        unit.consume_user_token("new", "reset", now)
            .await
            .expect("consume"),
        Some(user.id)
    );
    assert_eq!(
        unit.consume_user_token("new", "reset", now)
            .await
            .expect("again"),
        None,
        "single use"
    );
    unit.commit().await.expect("commit");
    assert_eq!(
        store
            .user_token_owner("new", "reset", now)
            .await
            .expect("owner"),
        None
    );
}
