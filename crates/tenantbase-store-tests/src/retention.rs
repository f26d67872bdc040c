//! Conformance tests of deleting what ended sign-ins leave behind.

use chrono::{Duration, Utc};
use tenantbase_domain::id::{SessionId, TrustedDeviceId};
use tenantbase_domain::model::Rotation;
use tenantbase_store::identity::mfa::NewTrustedDevice;
use tenantbase_store::identity::retention::PrunedAuth;
use tenantbase_store::identity::sessions::NewSession;
use tenantbase_store::{Store, StoreError};

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
    // Two devices: trusting one device again replaces its earlier trust.
    for (device, expires_at) in [("old-device", ended), ("device", now + Duration::days(9))] {
        unit.insert_trusted_device(NewTrustedDevice {
            id: TrustedDeviceId::new(),
            user_id: user,
            token_hash: device.to_owned(),
            device_id: device.to_owned(),
            device_label: None,
            expires_at,
        })
        .await
        .expect("device");
    }
    unit.commit().await.expect("commit");

    let cut = now - Duration::days(30);
    let pruned = |sessions, user_tokens, trusted_devices| PrunedAuth {
        sessions,
        user_tokens,
        trusted_devices,
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
