//! Logout against requests already under way: once the logout has answered (and the
//! requests racing it have ended), the token works nowhere on this replica — a request
//! that read the session just before the logout committed must not have put it back
//! into the session cache. The exact interleaving (a read overtaken by the eviction) is
//! forced in `identity::cache`'s unit tests; here real requests race real logouts.

use std::sync::Arc;

use axum::http::Method;
use serde_json::json;

use crate::auth::{post, token, with_token};
use crate::helpers::{BOTH, TestApp};

/// Rounds per backend, and requests racing each logout.
const ROUNDS: usize = 20;
const RACERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_racing_a_logout_revives_the_session() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        for round in 0..ROUNDS {
            let guest = post(&app, "/v1/auth/guest", json!({}), &[]).await;
            assert_eq!(guest.status, 201, "{}", guest.text());
            let token = token(&guest.json()).to_owned();
            let racers: Vec<_> = (0..RACERS)
                .map(|_| {
                    let (app, token) = (Arc::clone(&app), token.clone());
                    tokio::spawn(async move {
                        with_token(&app, Method::GET, "/v1/auth/me", &token)
                            .await
                            .status
                    })
                })
                .collect();
            let logout = with_token(&app, Method::POST, "/v1/auth/logout", &token).await;
            assert_eq!(logout.status, 204, "{}", logout.text());
            after_logout(&app, &token, backend, round).await;
            for racer in racers {
                let status = racer.await.expect("racer").as_u16();
                assert!(
                    status == 200 || status == 401,
                    "{backend:?} round {round}: {status}"
                );
            }
            // The racers have all ended: whatever they cached, the token stays dead.
            after_logout(&app, &token, backend, round).await;
        }
    }
}

async fn after_logout(app: &TestApp, token: &str, backend: crate::helpers::Backend, round: usize) {
    let me = with_token(app, Method::GET, "/v1/auth/me", token).await;
    assert_eq!(
        me.status.as_u16(),
        401,
        "{backend:?} round {round}: the logged-out token still works"
    );
    me.assert_invalid_token();
}
