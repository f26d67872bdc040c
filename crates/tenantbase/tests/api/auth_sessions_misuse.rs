//! Sessions against misbehaving clients: revocations and refreshes raced with each other,
//! another user's sessions, expired and revoked sessions, guests upgraded twice at once,
//! and bodies and headers wrong in several ways — on both backends.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::auth::{PASSWORD, login, post, register, token, with_token};
use crate::helpers::{BOTH, TestApp, TestResponse};
use crate::passkeys::events_of;

/// How many clients race in each probe.
const RACERS: usize = 8;

fn statuses(responses: &[TestResponse]) -> Vec<u16> {
    let mut statuses: Vec<u16> = responses.iter().map(|r| r.status.as_u16()).collect();
    statuses.sort_unstable();
    statuses
}

async fn session_id(app: &TestApp, access: &str) -> String {
    let me = with_token(app, Method::GET, "/v1/auth/me", access).await;
    assert_eq!(me.status, 200, "{}", me.text());
    me.json()["session_id"].as_str().expect("sid").to_owned()
}

async fn refresh(app: &TestApp, pair: &Value) -> TestResponse {
    let body = json!({"refresh_token": pair["refresh_token"]});
    post(app, "/v1/auth/refresh", body, &[]).await
}

#[tokio::test]
async fn racing_revocations_of_one_session_end_it_once() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let keeper = register(&app, "racer@example.com").await;
        let other = login(&app, "racer@example.com", &[]).await;
        let other_id = session_id(&app, token(&other)).await;
        let path = format!("/v1/auth/sessions/{other_id}");
        let deletes =
            join_all((0..RACERS).map(|_| with_token(&app, Method::DELETE, &path, token(&keeper))))
                .await;
        let mut expected = vec![404; RACERS - 1];
        expected.insert(0, 204);
        assert_eq!(statuses(&deletes), expected, "{backend:?}");
        let revoked = events_of(&app, "auth.session.revoked").await;
        assert_eq!(revoked.len(), 1, "{backend:?}: one revocation, one event");

        let logouts = join_all(
            (0..RACERS).map(|_| with_token(&app, Method::POST, "/v1/auth/logout", token(&keeper))),
        )
        .await;
        let mut expected = vec![401; RACERS - 1];
        expected.insert(0, 204);
        assert_eq!(statuses(&logouts), expected, "{backend:?}");
        for loser in logouts.iter().filter(|r| r.status != 204) {
            loser.assert_invalid_token();
        }
        assert_eq!(events_of(&app, "auth.logout").await.len(), 1, "{backend:?}");
    }
}

#[tokio::test]
async fn another_users_or_an_ended_session_is_not_found() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let alice = register(&app, "alice@example.com").await;
        let bob = register(&app, "bob@example.com").await;
        let bob_id = session_id(&app, token(&bob)).await;
        let path = format!("/v1/auth/sessions/{bob_id}");
        with_token(&app, Method::DELETE, &path, token(&alice))
            .await
            .problem(404, "session_not_found");
        // Bob's session lives on.
        session_id(&app, token(&bob)).await;
        let response = with_token(
            &app,
            Method::POST,
            "/v1/auth/sessions/revoke-all?include_current=yes",
            token(&alice),
        )
        .await;
        assert_eq!(
            response.invalid_fields(),
            ["include_current"],
            "{backend:?}"
        );
        for bad in ["nope", "ses_", "usr_0000", "%00"] {
            let path = format!("/v1/auth/sessions/{bad}");
            let response = with_token(&app, Method::DELETE, &path, token(&alice)).await;
            assert_eq!(
                response.status,
                422,
                "{backend:?} {bad}: {}",
                response.text()
            );
        }
        // An own session ended by logout: gone for refresh, and for a revocation.
        let second = login(&app, "alice@example.com", &[]).await;
        let second_path = format!(
            "/v1/auth/sessions/{}",
            session_id(&app, token(&second)).await
        );
        let logout = with_token(&app, Method::POST, "/v1/auth/logout", token(&second)).await;
        assert_eq!(logout.status, 204, "{}", logout.text());
        refresh(&app, &second)
            .await
            .problem(401, "invalid_refresh_token");
        with_token(&app, Method::DELETE, &second_path, token(&alice))
            .await
            .problem(404, "session_not_found");
    }
}

#[tokio::test]
async fn an_expired_session_does_not_refresh() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let pair = register(&app, "expired@example.com").await;
        app.execute_sql(
            "UPDATE sessions SET idle_expires_at = created_at WHERE user_id = \
             (SELECT id FROM users WHERE email = 'expired@example.com')",
        )
        .await;
        refresh(&app, &pair)
            .await
            .problem(401, "invalid_refresh_token");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_racing_a_revoke_all_does_not_survive_it() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        let keeper = register(&app, "sweep@example.com").await;
        for round in 0..10 {
            let victim = login(&app, "sweep@example.com", &[]).await;
            let refreshing = {
                let (app, victim) = (Arc::clone(&app), victim.clone());
                tokio::spawn(async move { refresh(&app, &victim).await })
            };
            let sweep = with_token(
                &app,
                Method::POST,
                "/v1/auth/sessions/revoke-all",
                token(&keeper),
            )
            .await;
            assert_eq!(sweep.status, 200, "{}", sweep.text());
            let refreshed = refreshing.await.expect("refresh");
            assert!(
                refreshed.status == 200 || refreshed.status == 401,
                "{backend:?} {round}: {}",
                refreshed.text()
            );
            let pair = if refreshed.status == 200 {
                refreshed.json()
            } else {
                victim
            };
            with_token(&app, Method::GET, "/v1/auth/me", token(&pair))
                .await
                .assert_invalid_token();
            refresh(&app, &pair)
                .await
                .problem(401, "invalid_refresh_token");
        }
    }
}

#[tokio::test]
async fn a_guest_upgraded_twice_at_once_or_against_a_sign_up_makes_one_account() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let guest = post(&app, "/v1/auth/guest", json!({}), &[]).await.json();
        let bearer = format!("Bearer {}", token(&guest));
        let app_ref = &app;
        let bearer_ref = bearer.as_str();
        let upgrades = join_all((0..RACERS).map(|i| {
            let body = json!({"email": format!("up{i}@example.com"), "password": PASSWORD});
            async move {
                let headers = [("authorization", bearer_ref)];
                post(app_ref, "/v1/auth/guest/upgrade", body, &headers).await
            }
        }))
        .await;
        let mut expected = vec![409; RACERS - 1];
        expected.insert(0, 200);
        assert_eq!(statuses(&upgrades), expected, "{backend:?}");
        for loser in upgrades.iter().filter(|r| r.status != 200) {
            loser.problem(409, "not_a_guest");
        }

        let guests: Vec<Value> =
            join_all((0..RACERS).map(|_| post(&app, "/v1/auth/guest", json!({}), &[])))
                .await
                .iter()
                .map(TestResponse::json)
                .collect();
        let body = json!({"email": "same@example.com", "password": PASSWORD});
        let mut racing: Vec<_> = guests
            .iter()
            .map(|guest| {
                let bearer = format!("Bearer {}", token(guest));
                let body = body.clone();
                let app = &app;
                Box::pin(async move {
                    post(
                        app,
                        "/v1/auth/guest/upgrade",
                        body,
                        &[("authorization", &bearer)],
                    )
                    .await
                })
                    as std::pin::Pin<Box<dyn Future<Output = TestResponse> + Send + '_>>
            })
            .collect();
        racing.push(Box::pin(post(&app, "/v1/auth/register", body.clone(), &[])));
        let answers = join_all(racing).await;
        let won: Vec<&TestResponse> = answers.iter().filter(|r| r.status.is_success()).collect();
        assert_eq!(won.len(), 1, "{backend:?}: {:?}", statuses(&answers));
        for loser in answers.iter().filter(|r| !r.status.is_success()) {
            loser.problem(409, "email_taken");
        }
    }
}

/// A route, a body wrong in every field, the fields named, and the headers sent.
type WrongBody<'a> = (&'a str, Value, &'a [&'a str], &'a [(&'a str, &'a str)]);

#[tokio::test]
async fn bodies_wrong_everywhere_name_every_field() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let guest = post(&app, "/v1/auth/guest", json!({}), &[]).await.json();
        let bearer = format!("Bearer {}", token(&guest));
        let cases: [WrongBody; 6] = [
            (
                "/v1/auth/register",
                json!({"email": 1, "password": [], "display_name": {}}),
                &["display_name", "email", "password"],
                &[],
            ),
            (
                "/v1/auth/register",
                json!({"email": "not-an-email", "password": "short", "display_name": "a\u{0007}"}),
                &["display_name", "email", "password"],
                &[],
            ),
            (
                "/v1/auth/login",
                json!({"email": 1, "password": false, "device_token": 3}),
                &["device_token", "email", "password"],
                &[],
            ),
            (
                "/v1/auth/refresh",
                json!({"refresh_token": 7}),
                &["refresh_token"],
                &[],
            ),
            (
                "/v1/auth/guest/upgrade",
                json!({"email": "nope", "password": "x"}),
                &["email", "password"],
                &[("authorization", &bearer)],
            ),
            (
                "/v1/auth/guest/upgrade",
                json!({"email": null, "password": 1}),
                &["email", "password"],
                &[("authorization", &bearer)],
            ),
        ];
        for (path, body, fields, headers) in cases {
            let response = post(&app, path, body.clone(), headers).await;
            assert_eq!(
                response.invalid_fields(),
                fields,
                "{backend:?} {path} {body}"
            );
        }
        let token_body = json!({"org_id": 5});
        let response = post(
            &app,
            "/v1/auth/token",
            token_body,
            &[("authorization", &bearer)],
        )
        .await;
        assert_eq!(response.invalid_fields(), ["org_id"], "{backend:?}");
    }
}

#[tokio::test]
async fn odd_authorization_headers_are_401() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let pair = register(&app, "headers@example.com").await;
        for value in [
            "",
            "Bearer",
            "Bearer ",
            "Bearer  ",
            "Token abc",
            "bearer x y",
        ] {
            for (method, path) in [
                (Method::GET, "/v1/auth/me"),
                (Method::POST, "/v1/auth/logout"),
                (Method::GET, "/v1/auth/sessions"),
                (Method::POST, "/v1/auth/sessions/revoke-all"),
            ] {
                let request = Request::builder()
                    .method(method.clone())
                    .uri(path)
                    .header("authorization", value)
                    .body(Body::empty())
                    .expect("request");
                let response = app.send(request).await;
                assert_eq!(
                    response.status,
                    401,
                    "{backend:?} {path} {value:?}: {}",
                    response.text()
                );
            }
        }
        let raw = axum::http::HeaderValue::from_bytes(b"Bearer \xff\xfe").expect("opaque");
        let request = Request::get("/v1/auth/me")
            .header("authorization", raw)
            .body(Body::empty())
            .expect("request");
        app.send(request).await.assert_invalid_token();
        // The session still works after all that.
        session_id(&app, token(&pair)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_racing_a_logout_does_not_survive_it() {
    for backend in BOTH {
        let app = Arc::new(TestApp::new(backend).await);
        register(&app, "leaver@example.com").await;
        for round in 0..10 {
            let pair = login(&app, "leaver@example.com", &[]).await;
            let refreshing = {
                let (app, pair) = (Arc::clone(&app), pair.clone());
                tokio::spawn(async move { refresh(&app, &pair).await })
            };
            let logout = with_token(&app, Method::POST, "/v1/auth/logout", token(&pair)).await;
            assert_eq!(logout.status, 204, "{}", logout.text());
            let refreshed = refreshing.await.expect("refresh");
            assert!(
                refreshed.status == 200 || refreshed.status == 401,
                "{backend:?} {round}: {}",
                refreshed.text()
            );
            let pair = if refreshed.status == 200 {
                refreshed.json()
            } else {
                pair
            };
            with_token(&app, Method::GET, "/v1/auth/me", token(&pair))
                .await
                .assert_invalid_token();
            refresh(&app, &pair)
                .await
                .problem(401, "invalid_refresh_token");
        }
    }
}

#[tokio::test]
async fn signed_tokens_naming_odd_subjects_are_401() {
    use tenantbase_core::identity::tokens::Subject;
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let alice = register(&app, "subj-a@example.com").await;
        let bob = register(&app, "subj-b@example.com").await;
        let alice_id = alice["user"]["id"].as_str().expect("id").to_owned();
        let bob_sid = session_id(&app, token(&bob)).await;
        let alice_sid = session_id(&app, token(&alice)).await;
        let fresh_sid = tenantbase_domain::id::SessionId::new().to_string();
        let cases: [(&str, &str, Option<&str>); 6] = [
            (&alice_id, &bob_sid, None),
            (&alice_id, &fresh_sid, None),
            ("usr_nope", &alice_sid, None),
            (&alice_id, "ses_nope", None),
            (&alice_id, &alice_sid, Some("org_nope")),
            ("", "", None),
        ];
        for (user, session, org) in cases {
            let subject = Subject {
                user,
                session,
                amr: &["pwd"],
                auth_time: chrono::Utc::now().timestamp(),
                org,
            };
            let (forged, _) = app
                .identity()
                .keyring()
                .issue(&subject, None, chrono::Utc::now())
                .expect("issue");
            for (method, path) in [
                (Method::GET, "/v1/auth/me"),
                (Method::POST, "/v1/auth/logout"),
                (Method::GET, "/v1/auth/sessions"),
            ] {
                let response = with_token(&app, method, path, &forged).await;
                assert_eq!(
                    response.status,
                    401,
                    "{backend:?} {user} {session} {org:?} {path}: {}",
                    response.text()
                );
            }
        }
        session_id(&app, token(&bob)).await;
    }
}

#[tokio::test]
async fn one_address_signed_up_for_at_once_makes_one_account() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let spellings = ["twin@example.com", "Twin@Example.com", " TWIN@example.COM "];
        let answers = join_all((0..RACERS).map(|i| {
            let body = json!({"email": spellings[i % spellings.len()], "password": PASSWORD});
            post(&app, "/v1/auth/register", body, &[])
        }))
        .await;
        let mut expected = vec![409; RACERS - 1];
        expected.insert(0, 201);
        assert_eq!(statuses(&answers), expected, "{backend:?}");
        for loser in answers.iter().filter(|r| r.status != 201) {
            loser.problem(409, "email_taken");
        }
        // Ending one's own current session by id ends the token at once.
        let winner = answers
            .iter()
            .find(|r| r.status == 201)
            .expect("one")
            .json();
        let path = format!(
            "/v1/auth/sessions/{}",
            session_id(&app, token(&winner)).await
        );
        let own = with_token(&app, Method::DELETE, &path, token(&winner)).await;
        assert_eq!(own.status, 204, "{}", own.text());
        with_token(&app, Method::GET, "/v1/auth/me", token(&winner))
            .await
            .assert_invalid_token();
    }
}
