//! The emailed flows end to end: verification and password reset mails travel through
//! the job queue to a real SMTP server (aiosmtpd on loopback), and the tokens in them work
//! once.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use serde_json::{Value, json};
use tenantbase_core::jobs::{JobSeal, Registry, Worker, WorkerConfig};
use tenantbase_core::mail::SendEmail;
use tenantbase_mail::testing::SmtpServer;
use tenantbase_mail::{SmtpConfig, SmtpSecurity, SmtpTransport};
use tokio_util::sync::CancellationToken;

use crate::helpers::{BOTH, Backend, TestApp, TestResponse};

async fn post(app: &TestApp, path: &str, body: Value, bearer: Option<&str>) -> TestResponse {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header("content-type", "application/json");
    if let Some(token) = bearer {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.send(request.body(Body::from(body.to_string())).expect("request"))
        .await
}

async fn me(app: &TestApp, token: &str) -> TestResponse {
    let request = Request::get("/v1/auth/me")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    app.send(request).await
}

/// The token in the link of the newest message to `to` whose link path is `path`.
fn token_from(messages: &[String], to: &str, path: &str) -> String {
    let needle = format!("{path}?token=");
    messages
        .iter()
        .rev()
        .filter_map(|raw| mail_parser::MessageParser::default().parse(raw.as_bytes()))
        .filter(|m| m.to().and_then(|a| a.first()).and_then(|a| a.address()) == Some(to))
        .find_map(|m| {
            let text = m.body_text(0)?.into_owned();
            let start = text.find(&needle)? + needle.len();
            Some(
                text[start..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                    .collect(),
            )
        })
        .unwrap_or_else(|| panic!("no {path} link to {to} in {} messages", messages.len()))
}

/// A real SMTP server on loopback and a job worker that sends `app`'s mail to it; cancel
/// the token and await the handle to stop the worker.
async fn mail_to_smtp(
    app: &TestApp,
) -> (SmtpServer, CancellationToken, tokio::task::JoinHandle<()>) {
    let smtp = tokio::task::spawn_blocking(SmtpServer::start)
        .await
        .expect("aiosmtpd");
    let config = SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port: smtp.port(),
        security: SmtpSecurity::None,
        username: None,
        password: None,
        timeout_secs: 5,
    };
    let transport =
        SmtpTransport::new(&config, "tenantbase <no-reply@example.com>").expect("transport");
    let registry = Registry::new().register(SendEmail {
        transport: Arc::new(transport),
        seal: JobSeal::from_master(app.master()),
    });
    let worker_config = WorkerConfig {
        poll_interval: Duration::from_millis(20),
        ..WorkerConfig::default()
    };
    let shutdown = CancellationToken::new();
    let worker =
        tokio::spawn(Worker::new(app.store.clone(), registry, worker_config).run(shutdown.clone()));
    (smtp, shutdown, worker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verification_and_password_reset_by_email() {
    let app = TestApp::new(Backend::Sqlite).await;
    let (smtp, shutdown, worker) = mail_to_smtp(&app).await;

    // Registration mails a verification link; the token verifies once.
    let password = "correct horse battery staple";
    let registered = post(
        &app,
        "/v1/auth/register",
        json!({"email": "lin@example.com", "password": password}),
        None,
    )
    .await
    .json();
    let access = registered["access_token"]
        .as_str()
        .expect("token")
        .to_owned();
    let messages = smtp.wait_for_messages(1, Duration::from_secs(20));
    let token = token_from(&messages, "lin@example.com", "/verify-email");
    assert_eq!(
        post(&app, "/v1/auth/email/verify", json!({"token": token}), None)
            .await
            .status,
        204
    );
    assert_eq!(me(&app, &access).await.json()["email_verified"], true);
    post(&app, "/v1/auth/email/verify", json!({"token": token}), None)
        .await
        .problem(422, "validation_failed");
    post(&app, "/v1/auth/email/resend", json!({}), Some(&access))
        .await
        .problem(409, "already_verified");

    // Forgot-password answers the same for known and unknown emails.
    let known = post(
        &app,
        "/v1/auth/password/forgot",
        json!({"email": "lin@example.com"}),
        None,
    )
    .await;
    let unknown = post(
        &app,
        "/v1/auth/password/forgot",
        json!({"email": "ghost@example.com"}),
        None,
    )
    .await;
    assert_eq!((known.status.as_u16(), unknown.status.as_u16()), (202, 202));
    assert_eq!(known.body, unknown.body);
    let messages = smtp.wait_for_messages(2, Duration::from_secs(20));
    let reset = token_from(&messages, "lin@example.com", "/reset-password");

    // A weak new password is refused and does not use the token up.
    let weak = post(
        &app,
        "/v1/auth/password/reset",
        json!({"token": reset, "new_password": "short"}),
        None,
    )
    .await;
    assert_eq!(
        weak.problem(422, "validation_failed")["errors"][0]["field"],
        "new_password"
    );
    let new_password = "a completely different passphrase";
    let done = post(
        &app,
        "/v1/auth/password/reset",
        json!({"token": reset, "new_password": new_password}),
        None,
    )
    .await;
    assert_eq!(done.status, 204, "{}", done.text());
    me(&app, &access).await.problem(401, "invalid_token");
    post(
        &app,
        "/v1/auth/login",
        json!({"email": "lin@example.com", "password": password}),
        None,
    )
    .await
    .problem(401, "invalid_credentials");
    let signed_in = post(
        &app,
        "/v1/auth/login",
        json!({"email": "lin@example.com", "password": new_password}),
        None,
    )
    .await;
    assert_eq!(signed_in.status, 200);
    post(
        &app,
        "/v1/auth/password/reset",
        json!({"token": reset, "new_password": "yet another fine passphrase"}),
        None,
    )
    .await
    .problem(422, "validation_failed");

    let events = app.platform_events().await;
    for expected in ["auth.email.verified", "auth.password.reset"] {
        assert!(
            events.iter().any(|e| e["event_type"] == expected),
            "{expected} audited"
        );
    }
    shutdown.cancel();
    worker.await.expect("worker");
}

/// Account pre-hijacking: someone registers an address they do not own and adds a second
/// factor of their own. When the owner resets the password through the address, the
/// reset proves it: the factor goes, the email counts as verified, and the new password
/// alone signs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_of_an_unverified_account_removes_what_its_registrant_added() {
    for backend in BOTH {
        let app = TestApp::new(backend).await;
        let (smtp, shutdown, worker) = mail_to_smtp(&app).await;
        let squatter = crate::tenants::Caller::registered(&app, "own@example.com").await;
        crate::auth_mfa::enrol_totp(&app, &squatter).await;
        let forgot = json!({"email": "own@example.com"});
        let asked = post(&app, "/v1/auth/password/forgot", forgot, None).await;
        assert_eq!(asked.status, 202, "{backend:?}: {}", asked.text());
        // The registration's verification mail, then the reset's.
        let messages = smtp.wait_for_messages(2, Duration::from_secs(20));
        let reset = token_from(&messages, "own@example.com", "/reset-password");
        let new_password = "the owner's own passphrase";
        let body = json!({"token": reset, "new_password": new_password});
        let done = post(&app, "/v1/auth/password/reset", body, None).await;
        assert_eq!(done.status, 204, "{backend:?}: {}", done.text());

        let body = json!({"email": "own@example.com", "password": new_password});
        let signed_in = post(&app, "/v1/auth/login", body, None).await.json();
        let access = signed_in["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("{backend:?}: no second step any more: {signed_in}"));
        assert_eq!(me(&app, access).await.json()["email_verified"], true);
        let factors = crate::auth::with_token(&app, Method::GET, "/v1/auth/mfa", access).await;
        assert_eq!(factors.status, 200, "{}", factors.text());
        assert_eq!(factors.json()["factors"], json!([]), "{backend:?}");
        assert_eq!(factors.json()["backup_codes_left"], 0, "{backend:?}");
        let events = app.platform_events().await;
        assert!(
            events
                .iter()
                .any(|e| e["event_type"] == "auth.email.verified_by_reset"),
            "{backend:?}: audited"
        );
        shutdown.cancel();
        worker.await.expect("worker");
    }
}

/// The registrant's second step racing the owner's reset, on PostgreSQL, in the order that
/// deadlocked: the reset waiting for the factor's row when the second step takes the
/// challenge's, then wanting that challenge while the second step waits for the factor.
/// The reset ends pending sign-ins before anything else, so the second step waits for it
/// and finds its challenge gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reset_racing_the_registrants_second_step_ends_it_without_a_deadlock() {
    let app = TestApp::new(Backend::Postgres).await;
    let (smtp, shutdown, worker) = mail_to_smtp(&app).await;
    let squatter = crate::tenants::Caller::registered(&app, "own@example.com").await;
    let (secret, _) = crate::auth_mfa::enrol_totp(&app, &squatter).await;
    let forgot = json!({"email": "own@example.com"});
    let asked = post(&app, "/v1/auth/password/forgot", forgot, None).await;
    assert_eq!(asked.status, 202, "{}", asked.text());
    let messages = smtp.wait_for_messages(2, Duration::from_secs(20));
    let reset = token_from(&messages, "own@example.com", "/reset-password");
    let mfa_token = crate::auth_mfa::mfa_token(&app, "own@example.com", &[]).await;

    // The registrant's factor, as a unit deleting or using it would take it.
    let factor = "SELECT 1 FROM mfa_factors f JOIN users u ON u.id = f.user_id \
                  WHERE u.email = $1 FOR UPDATE OF f";
    let holder = crate::passkeys_races::hold_rows(&app, factor, "own@example.com").await;
    let body = json!({"token": reset, "new_password": "the owner's own passphrase"});
    let reset = post(&app, "/v1/auth/password/reset", body, None);
    let code = crate::auth_mfa::totp_code(&secret, 0);
    let second_step = async {
        crate::passkeys_races::waiting_for_locks(&app, 1).await;
        crate::auth_mfa::verify(&app, &mfa_token, "totp", &code, &[]).await
    };
    let release = async {
        crate::passkeys_races::waiting_for_locks(&app, 2).await;
        crate::passkeys_races::release_row(holder).await;
    };
    let (reset, second_step, ()) = tokio::join!(reset, second_step, release);
    assert_eq!(reset.status, 204, "{}", reset.text());
    second_step.problem(401, "invalid_mfa_token");
    shutdown.cancel();
    worker.await.expect("worker");
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions() {
    let app = TestApp::new(Backend::Postgres).await;
    let password = "correct horse battery staple";
    let first = post(
        &app,
        "/v1/auth/register",
        json!({"email": "ida@example.com", "password": password}),
        None,
    )
    .await
    .json();
    let second = post(
        &app,
        "/v1/auth/login",
        json!({"email": "ida@example.com", "password": password}),
        None,
    )
    .await
    .json();
    let (first, second) = (
        first["access_token"].as_str().expect("t1"),
        second["access_token"].as_str().expect("t2"),
    );
    let wrong = post(
        &app,
        "/v1/auth/password/change",
        json!({"current_password": "nope nope nope", "new_password": "a fresh passphrase here"}),
        Some(second),
    )
    .await;
    assert_eq!(
        wrong.problem(422, "validation_failed")["errors"][0]["field"],
        "current_password"
    );
    let changed = post(
        &app,
        "/v1/auth/password/change",
        json!({"current_password": password, "new_password": "a fresh passphrase here"}),
        Some(second),
    )
    .await;
    assert_eq!(changed.status, 204, "{}", changed.text());
    me(&app, first).await.problem(401, "invalid_token");
    assert_eq!(
        me(&app, second).await.status,
        200,
        "the session that changed it stays"
    );
}

#[tokio::test]
async fn guests_upgrade_keeping_their_id() {
    let app = TestApp::new(Backend::Sqlite).await;
    let guest = post(&app, "/v1/auth/guest", json!({}), None).await.json();
    let token = guest["access_token"].as_str().expect("token");
    let upgraded = post(
        &app,
        "/v1/auth/guest/upgrade",
        json!({"email": "grace@example.com", "password": "correct horse battery staple"}),
        Some(token),
    )
    .await;
    assert_eq!(upgraded.status, 200, "{}", upgraded.text());
    let user = upgraded.json();
    assert_eq!(user["id"], guest["user"]["id"]);
    assert_eq!(
        (user["is_guest"].as_bool(), user["email"].as_str()),
        (Some(false), Some("grace@example.com"))
    );
    post(
        &app,
        "/v1/auth/guest/upgrade",
        json!({"email": "other@example.com", "password": "correct horse battery staple"}),
        Some(token),
    )
    .await
    .problem(409, "not_a_guest");
    let login = post(
        &app,
        "/v1/auth/login",
        json!({"email": "grace@example.com", "password": "correct horse battery staple"}),
        None,
    )
    .await;
    assert_eq!(login.json()["user"]["id"], guest["user"]["id"]);
}

#[tokio::test]
async fn the_oldest_session_goes_past_the_limit() {
    for backend in BOTH {
        let policy = tenantbase_core::identity::SessionPolicy {
            max_per_user: 2,
            ..Default::default()
        };
        let app = TestApp::with_sessions(backend, policy).await;
        let password = "correct horse battery staple";
        let sign_in = json!({"email": "max@example.com", "password": password});
        let registered = json!({"email": "max@example.com", "password": password});
        let oldest = post(&app, "/v1/auth/register", registered, None)
            .await
            .json();
        let middle = post(&app, "/v1/auth/login", sign_in.clone(), None)
            .await
            .json();
        post(&app, "/v1/auth/login", sign_in, None).await;
        me(&app, oldest["access_token"].as_str().expect("token"))
            .await
            .problem(401, "invalid_token");
        let kept = me(&app, middle["access_token"].as_str().expect("token")).await;
        assert_eq!(kept.status, 200, "{backend:?}: the newer sessions stay");
        let revoked: Vec<_> = app
            .platform_events()
            .await
            .into_iter()
            .filter(|e| e["event_type"] == "auth.session.revoked")
            .collect();
        assert_eq!(revoked.len(), 1, "{backend:?}: {revoked:?}");
    }
}
