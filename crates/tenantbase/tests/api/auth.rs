//! The identity API: register, login, guests, refresh rotation and reuse, sessions,
//! logout, `/me`, and the JWKS — on both backends where the store matters.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use futures::future::join_all;
use serde_json::{Value, json};
use tenantbase_core::identity::SessionPolicy;

use crate::helpers::{BOTH, Backend, TestApp, TestResponse};

pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) async fn post(
    app: &TestApp,
    path: &str,
    body: Value,
    headers: &[(&str, &str)],
) -> TestResponse {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::from(body.to_string())).expect("request"))
        .await
}

pub(crate) async fn with_token(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
) -> TestResponse {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    app.send(request).await
}

pub(crate) async fn register(app: &TestApp, email: &str) -> Value {
    let response = post(
        app,
        "/v1/auth/register",
        json!({"email": email, "password": PASSWORD}),
        &[],
    )
    .await;
    assert_eq!(response.status, 201, "{}", response.text());
    response.json()
}

pub(crate) async fn login(app: &TestApp, email: &str, headers: &[(&str, &str)]) -> Value {
    let response = post(
        app,
        "/v1/auth/login",
        json!({"email": email, "password": PASSWORD}),
        headers,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.text());
    response.json()
}

pub(crate) fn token(body: &Value) -> &str {
    body["access_token"].as_str().expect("access token")
}

#[tokio::test]
async fn register_login_me_logout() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let registered = register(&app, "  Ada@Example.com ").await;
        assert_eq!(registered["token_type"], "Bearer");
        assert_eq!(
            registered["user"]["email"], "ada@example.com",
            "emails are normalised"
        );
        assert_eq!(registered["user"]["email_verified"], false);
        assert!(
            registered["user"]["id"]
                .as_str()
                .expect("id")
                .starts_with("usr_")
        );
        assert!(registered["refresh_token"].as_str().expect("refresh").len() >= 43);
        assert_eq!(registered["expires_in"], 900);

        let me = with_token(&app, Method::GET, "/v1/auth/me", token(&registered)).await;
        assert_eq!(me.status, 200, "{backend:?}: {}", me.text());
        let me = me.json();
        assert_eq!(me["user"]["id"], registered["user"]["id"]);
        assert_eq!(me["auth_methods"], json!(["pwd"]));
        assert_eq!(me["memberships"], json!([]));
        assert!(me["session_id"].as_str().expect("sid").starts_with("ses_"));

        let logged_in = login(&app, "ADA@example.com", &[]).await;
        let out = with_token(&app, Method::POST, "/v1/auth/logout", token(&logged_in)).await;
        assert_eq!(out.status, 204);
        with_token(&app, Method::GET, "/v1/auth/me", token(&logged_in))
            .await
            .problem(401, "invalid_token");
        // The other session is untouched.
        assert_eq!(
            with_token(&app, Method::GET, "/v1/auth/me", token(&registered))
                .await
                .status,
            200
        );
    }
}

#[tokio::test]
async fn registration_rejects_taken_emails_and_weak_passwords() {
    let app = TestApp::new(Backend::Sqlite).await;
    register(&app, "grace@example.com").await;
    let again = post(
        &app,
        "/v1/auth/register",
        json!({"email": "GRACE@example.com", "password": PASSWORD}),
        &[],
    )
    .await;
    again.problem(409, "email_taken");
    for (body, field) in [
        (
            json!({"email": "x@example.com", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "x@example.com", "password": "password1234"}),
            "password",
        ),
        (
            json!({"email": "x@example.com", "password": "x@example.com"}),
            "password",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD}),
            "email",
        ),
    ] {
        let problem = post(&app, "/v1/auth/register", body.clone(), &[])
            .await
            .problem(422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    post(
        &app,
        "/v1/auth/register",
        json!({"email": "x@example.com"}),
        &[],
    )
    .await
    .problem(422, "validation_failed");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_look_the_same() {
    let app = TestApp::new(Backend::Sqlite).await;
    register(&app, "hopper@example.com").await;
    let wrong = post(
        &app,
        "/v1/auth/login",
        json!({"email": "hopper@example.com", "password": "wrong password!!"}),
        &[],
    )
    .await;
    let unknown = post(
        &app,
        "/v1/auth/login",
        json!({"email": "nobody@example.com", "password": PASSWORD}),
        &[],
    )
    .await;
    let (mut a, mut b) = (
        wrong.problem(401, "invalid_credentials"),
        unknown.problem(401, "invalid_credentials"),
    );
    a["request_id"] = Value::Null;
    b["request_id"] = Value::Null;
    assert_eq!(a, b);

    let events = app.platform_events().await;
    let failed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "auth.login.failed")
        .collect();
    assert_eq!(failed.len(), 2);
    assert!(events.iter().any(|e| e["event_type"] == "auth.registered"));
    assert!(
        !events.iter().any(|e| e.to_string().contains(PASSWORD)),
        "no password in the audit log"
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    for backend in BOTH {
        let policy = SessionPolicy {
            refresh_grace: Duration::ZERO,
            ..SessionPolicy::default()
        };
        let app = TestApp::with_sessions(backend, policy).await;
        let first = register(&app, "katherine@example.com").await;
        let refreshed = post(
            &app,
            "/v1/auth/refresh",
            json!({"refresh_token": first["refresh_token"]}),
            &[],
        )
        .await;
        assert_eq!(refreshed.status, 200, "{backend:?}: {}", refreshed.text());
        let refreshed = refreshed.json();
        assert_ne!(refreshed["refresh_token"], first["refresh_token"]);
        assert_eq!(
            with_token(&app, Method::GET, "/v1/auth/me", token(&refreshed))
                .await
                .status,
            200
        );

        // Replaying the used token: the whole session goes.
        post(
            &app,
            "/v1/auth/refresh",
            json!({"refresh_token": first["refresh_token"]}),
            &[],
        )
        .await
        .problem(401, "invalid_refresh_token");
        with_token(&app, Method::GET, "/v1/auth/me", token(&refreshed))
            .await
            .problem(401, "invalid_token");
        post(
            &app,
            "/v1/auth/refresh",
            json!({"refresh_token": refreshed["refresh_token"]}),
            &[],
        )
        .await
        .problem(401, "invalid_refresh_token");
        let events = app.platform_events().await;
        assert!(
            events
                .iter()
                .any(|e| e["event_type"] == "auth.refresh.reused")
        );
    }
}

#[tokio::test]
async fn concurrent_refreshes_yield_exactly_one_successor() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let first = register(&app, "dorothy@example.com").await;
        let body = json!({"refresh_token": first["refresh_token"]});
        let responses =
            join_all((0..50).map(|_| post(&app, "/v1/auth/refresh", body.clone(), &[]))).await;
        let ok: Vec<&TestResponse> = responses.iter().filter(|r| r.status == 200).collect();
        assert_eq!(ok.len(), 1, "{backend:?}");
        let others: Vec<String> = responses
            .iter()
            .filter(|r| r.status != 200 && r.status != 401)
            .map(TestResponse::text)
            .collect();
        assert!(others.is_empty(), "{backend:?}: {others:?}");
        // The race did not cost the session: the successor works.
        let successor = ok[0].json();
        let next = post(
            &app,
            "/v1/auth/refresh",
            json!({"refresh_token": successor["refresh_token"]}),
            &[],
        )
        .await;
        assert_eq!(next.status, 200, "{}", next.text());
    }
}

#[tokio::test]
async fn refresh_tokens_are_bound_to_the_device() {
    let app = TestApp::new(Backend::Sqlite).await;
    register(&app, "mary@example.com").await;
    let session = login(
        &app,
        "mary@example.com",
        &[
            ("x-device-id", "phone-1"),
            ("x-device-label", "Mary's phone"),
        ],
    )
    .await;
    let body = json!({"refresh_token": session["refresh_token"]});
    post(
        &app,
        "/v1/auth/refresh",
        body.clone(),
        &[("x-device-id", "laptop-9")],
    )
    .await
    .problem(401, "invalid_refresh_token");
    with_token(&app, Method::GET, "/v1/auth/me", token(&session))
        .await
        .problem(401, "invalid_token");
}

#[tokio::test]
async fn a_device_label_in_any_language_is_kept_and_cut_to_100_characters() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let first = register(&app, "zoe@example.com").await;
        let label = "Téléphone de Zoé — 電話";
        login(&app, "zoe@example.com", &[("x-device-label", label)]).await;
        let long = "é".repeat(150);
        login(&app, "zoe@example.com", &[("x-device-label", &long)]).await;
        let list = with_token(&app, Method::GET, "/v1/auth/sessions", token(&first))
            .await
            .json();
        let labels: Vec<&str> = list["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|s| s["device_label"].as_str())
            .collect();
        assert!(labels.contains(&label), "{backend:?}: {labels:?}");
        assert!(
            labels.contains(&"é".repeat(100).as_str()),
            "{backend:?}: {labels:?}"
        );
    }
}

#[tokio::test]
async fn sessions_are_listed_and_revoked() {
    let app = TestApp::new(Backend::Postgres).await;
    let first = register(&app, "annie@example.com").await;
    let second = login(&app, "annie@example.com", &[("x-device-label", "tablet")]).await;
    let third = login(&app, "annie@example.com", &[]).await;
    let list = with_token(&app, Method::GET, "/v1/auth/sessions", token(&third))
        .await
        .json();
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 3);
    assert_eq!(list["next_cursor"], Value::Null);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    assert!(items.iter().any(|s| s["device_label"] == "tablet"));

    let second_sid = with_token(&app, Method::GET, "/v1/auth/me", token(&second))
        .await
        .json()["session_id"]
        .clone();
    let path = format!("/v1/auth/sessions/{}", second_sid.as_str().expect("sid"));
    assert_eq!(
        with_token(&app, Method::DELETE, &path, token(&third))
            .await
            .status,
        204
    );
    with_token(&app, Method::DELETE, &path, token(&third))
        .await
        .problem(404, "session_not_found");
    with_token(
        &app,
        Method::DELETE,
        "/v1/auth/sessions/usr_0",
        token(&third),
    )
    .await
    .problem(422, "validation_failed");

    let revoked = with_token(
        &app,
        Method::POST,
        "/v1/auth/sessions/revoke-all",
        token(&third),
    )
    .await;
    assert_eq!(
        revoked.json()["revoked"],
        1,
        "only the first is left to revoke"
    );
    with_token(&app, Method::GET, "/v1/auth/me", token(&first))
        .await
        .problem(401, "invalid_token");
    assert_eq!(
        with_token(&app, Method::GET, "/v1/auth/me", token(&third))
            .await
            .status,
        200
    );
    with_token(
        &app,
        Method::POST,
        "/v1/auth/sessions/revoke-all?include_current=true",
        token(&third),
    )
    .await;
    with_token(&app, Method::GET, "/v1/auth/me", token(&third))
        .await
        .problem(401, "invalid_token");

    // Another user's session is not found, not forbidden.
    let other = register(&app, "someone@example.com").await;
    let other_sid = with_token(&app, Method::GET, "/v1/auth/me", token(&other))
        .await
        .json()["session_id"]
        .clone();
    let mine = login(&app, "annie@example.com", &[]).await;
    let path = format!("/v1/auth/sessions/{}", other_sid.as_str().expect("sid"));
    with_token(&app, Method::DELETE, &path, token(&mine))
        .await
        .problem(404, "session_not_found");
}

#[tokio::test]
async fn guests_get_a_short_token_and_no_personal_data() {
    let app = TestApp::new(Backend::Sqlite).await;
    let response = post(&app, "/v1/auth/guest", json!({}), &[]).await;
    assert_eq!(response.status, 201, "{}", response.text());
    let guest = response.json();
    assert_eq!(guest["expires_in"], 3600);
    assert_eq!(guest["user"]["email"], Value::Null);
    assert_eq!(guest["user"]["is_guest"], true);
    let name = guest["user"]["display_name"].as_str().expect("name");
    assert!(name.starts_with("guest-") && name.len() == 10, "{name}");
    let me = with_token(&app, Method::GET, "/v1/auth/me", token(&guest))
        .await
        .json();
    assert_eq!(me["auth_methods"], json!(["guest"]));
}
